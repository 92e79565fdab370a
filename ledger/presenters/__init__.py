"""JSON presenters: the stable shapes of what the CLI's ``--json``, the HTTP API and the
audit dossier print (documented in docs/cli.md). One module per subject: ``tickets``,
``quality`` (visits, corrective actions, complaints), ``contracts``. They shape state the
domain already decided; no rules, no I/O."""
