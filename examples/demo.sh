#!/usr/bin/env bash
# The main job on the embedded SQLite default: a fresh ledger, the five seed contracts, a
# month of tickets with the quality department's follow-up, the sweep, and the reports.
set -euo pipefail
cd "$(dirname "$0")/.."
LEDGER=".venv/bin/ledger"
export LEDGER_DB="sqlite:///demo/ledger.db"
# The demo's "now": the story is October 2026, recorded and reported on 20 November
# (a fixed clock, honoured only on a ledger initialised with --fixed-clock).
export LEDGER_NOW="${LEDGER_NOW:-2026-11-20T18:00+08:00}"
rm -rf demo && mkdir -p demo

section() { printf '\n== %s\n' "$1"; }

"$LEDGER" init --fixed-clock  # a demo ledger: its recorded times are LEDGER_NOW's
"$LEDGER" contract load --actor 系统管理员 --role admin examples/contracts/*.toml
.venv/bin/python examples/demo_tickets.py > demo/tickets.jsonl
echo "recording $(wc -l < demo/tickets.jsonl) commands from demo/tickets.jsonl ..."
"$LEDGER" import demo/tickets.jsonl

section "The escalation sweep (cron runs this every few minutes)"
"$LEDGER" sweep

section "Tickets"
"$LEDGER" ticket list --all --limit 10
"$LEDGER" ticket list --open
first_escalated=$("$LEDGER" ticket list --all --json | .venv/bin/python -c \
  'import json,sys; print(next(t["number"] for t in json.load(sys.stdin) if t["escalation_level"] != "engineer"))')
"$LEDGER" ticket show "$first_escalated"

section "SLA compliance, October 2026, by contract (policies of examples/contracts/*.toml)"
"$LEDGER" report sla --from 2026-10-01 --to 2026-10-31 --by contract --breaches 10

section "Quality supervision (质量部 / 总工办)"
"$LEDGER" visits due
"$LEDGER" report satisfaction --from 2026-10-01 --to 2026-11-30 --by contract
"$LEDGER" report corrective-actions
"$LEDGER" report complaints --month 2026-10
"$LEDGER" report assessment --quarter 2026Q4 --lang zh

section "Audit (integrity.md): back-dating, signatures, roles, reopenings"
# October was imported in one go on 20 November, so every event is back-dated by weeks and
# every target met as told is met "only thanks to back-dating": what a bulk import looks like.
"$LEDGER" report audit --from 2026-10-01 --to 2026-10-31 --limit 3

section "Tamper evidence: a signed digest, then verify the whole hash chain against it"
"$LEDGER" digest keygen --out demo/auditor.key
"$LEDGER" digest --key demo/auditor.key --out demo/digest.json
"$LEDGER" verify --digest demo/digest.json --public-key demo/auditor.key.pub

section "The audit dossier of $first_escalated, and the first events of the feed"
"$LEDGER" export --ticket "$first_escalated" --digest demo/digest.json --out "demo/dossier-$first_escalated.html"
"$LEDGER" feed --type "ledger.ticket.*" --limit 2

section "The supervisor dashboard (docs/dashboard.md)"
# A login for the chief engineer's office: the token is printed once, kept here 0600.
(umask 077 && "$LEDGER" user add 总工办-张 --role chief_engineer_office \
    --actor 系统管理员 --actor-role admin > demo/dashboard-token.txt)
echo "user 总工办-张 (chief_engineer_office); token in demo/dashboard-token.txt"

section "The workbench (docs/workbench.md): a login for each role"
# One user per role; each token is printed once by `ledger user add`, kept here 0600.
mkdir -p demo/tokens && chmod 700 demo/tokens
while read -r role name page; do
  (umask 077 && "$LEDGER" user add "$name" --role "$role" \
      --actor 系统管理员 --actor-role admin > "demo/tokens/$name.txt" 2>/dev/null)
  printf '%s %s: http://127.0.0.1:8000/login?next=%s\n    token %s\n' \
      "$role" "$name" "$page" "$(cat "demo/tokens/$name.txt")"
done <<'USERS'
dispatcher 李娜 /workbench
engineer 刘工 /workbench/phone
quality 质量部-陈敏 /workbench/quality
chief_engineer_office 总工办-刘总 /workbench/quality
customer 禹州市公安局-张三 /workbench/quality/complaints/new
USERS

echo
echo "The ledger is at demo/ledger.db. Try: LEDGER_DB=sqlite:///demo/ledger.db .venv/bin/ledger ticket history $first_escalated"
echo "The dashboard: LEDGER_DB=sqlite:///demo/ledger.db LEDGER_NOW=$LEDGER_NOW .venv/bin/ledger serve"
echo "  then open http://127.0.0.1:8000/dashboard?period=quarter and log in as 总工办-张 with the token in demo/dashboard-token.txt"
echo "The workbench, on the same server: open a role's address above and log in with its user"
echo "  and token (also in demo/tokens/USER.txt); the engineer's pages are made for a phone."
