#!/usr/bin/env bash
# A longer schemathesis run than CI's: Rasa's OpenAPI spec for the Rasa routes and convapi's
# generated schema for the rest, in-process against the WSGI app with a trained initbot.
# Prints, per route, the requests sent, the 5xx answers and the schema mismatches (by kind).
#
#   bash bench/fuzz.sh [EXAMPLES_PER_ROUTE_AND_MODE (default 100)] [SEED (default: random)]
#
# Runs on SQLite unless DATABASE_URL is set. Exits non-zero when any route answered a 5xx.
set -uo pipefail
cd "$(dirname "$0")/.."

examples="${1:-100}"
seed="${2:-}"
report="$(mktemp --suffix=.json)"
trap 'rm -f "$report"' EXIT

CONVAPI_FUZZ_EXAMPLES="$examples" CONVAPI_FUZZ_SEED="$seed" CONVAPI_FUZZ_REPORT="$report" \
  .venv/bin/pytest tests/fuzz/test_schemathesis.py -q -p no:cacheprovider
status=$?

.venv/bin/python - "$report" <<'PY'
import json
import sys

rows = json.load(open(sys.argv[1]))
width = max(len(route) for route in rows)
print(f"\n{'route':<{width}}  {'requests':>8}  {'5xx':>4}  {'mismatches':>10}  mismatch kinds")
totals = [0, 0, 0]
for route, row in rows.items():
    kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(row["mismatch_kinds"].items()))
    print(f"{route:<{width}}  {row['requests']:>8}  {row['server_errors']:>4}  "
          f"{row['mismatches']:>10}  {kinds}")
    for n, key in enumerate(("requests", "server_errors", "mismatches")):
        totals[n] += row[key]
print(f"{'total':<{width}}  {totals[0]:>8}  {totals[1]:>4}  {totals[2]:>10}")
for route, row in rows.items():
    for line in row["reproductions"]:
        print(f"\n5xx on {route}:\n  {line}")
PY
exit "$status"
