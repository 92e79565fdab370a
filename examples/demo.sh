#!/usr/bin/env bash
# The main job on the embedded SQLite default: a fresh ledger, a month of tickets, the lists.
set -euo pipefail
cd "$(dirname "$0")/.."
LEDGER=".venv/bin/ledger"
export LEDGER_DB="sqlite:///demo/ledger.db"
rm -rf demo && mkdir -p demo

"$LEDGER" init
"$LEDGER" contract load --actor 系统管理员 --role admin examples/contracts/*.toml
.venv/bin/python examples/demo_tickets.py > demo/tickets.jsonl
echo "recording $(wc -l < demo/tickets.jsonl) commands from demo/tickets.jsonl ..."
"$LEDGER" import demo/tickets.jsonl

echo
"$LEDGER" ticket list --all --limit 15
echo
"$LEDGER" ticket list --open
echo
first_escalated=$("$LEDGER" ticket list --all --json | .venv/bin/python -c \
  'import json,sys; print(next(t["number"] for t in json.load(sys.stdin) if t["escalation_level"] != "engineer"))')
"$LEDGER" ticket history "$first_escalated"
echo
echo "SLA compliance, October 2026, by contract (policies of examples/contracts/*.toml):"
"$LEDGER" report sla --from 2026-10-01 --to 2026-10-31 --by contract --breaches 10
echo
echo "The ledger is at demo/ledger.db. Try: LEDGER_DB=sqlite:///demo/ledger.db .venv/bin/ledger ticket show $first_escalated"
