"""The operators' workbench: the pages the people who make the records work in (the
hotline's intake, the queues, search, a ticket's actions; the engineer's phone; the quality
forms). An HTTP adapter beside ``api`` and ``dashboard``: it logs in and renders as the
dashboard does and writes through the write API's command path. docs/workbench.md."""
