#!/usr/bin/env bash
# A two-host convapi cluster on this machine (network namespaces, HAProxy, PostgreSQL, Redis,
# Celery) and the checks it must pass; see bench/cluster.py. Run as root:
#   bash bench/cluster.sh [--smoke] [--keep-logs]
# The Python script cleans up after itself (on failure, SIGINT and SIGTERM too). This wrapper
# passes Ctrl-C and SIGTERM on to it as SIGTERM, and runs its --cleanup once it is gone:
# the last resort for a run killed outright, so that no namespace, bridge, process or
# database is left behind.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
"$PY" -m bench.cluster "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' INT TERM
trap '"$PY" -m bench.cluster --cleanup "$@" >/dev/null 2>&1 || true' EXIT
status=0
wait "$child" || status=$?
# A trapped signal ends the first wait early: wait until the script has cleaned up.
while kill -0 "$child" 2>/dev/null; do
  status=0
  wait "$child" || status=$?
done
exit "$status"
