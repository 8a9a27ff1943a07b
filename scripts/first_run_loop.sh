#!/usr/bin/env bash
# The demo first run, N times (default 20), with every core kept busy by a spinner process:
# the window, auto-quantize, the local LLM and the embedder all on (tests/desktop/test_desktop_first_run.py).
# Prints one line per run and the count that passed; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
PY=${PYTHON:-.venv/bin/python}
SPIN=$("$PY" -c "import os; print(os.cpu_count() or 2)")
spinners=()
for _ in $(seq "$SPIN"); do "$PY" -c "while True: pass" & spinners+=($!); done
trap 'kill "${spinners[@]}" 2>/dev/null' EXIT
passed=0
for i in $(seq "$RUNS"); do
  start=$(date +%s)
  if QT_QPA_PLATFORM=offscreen PERSONALQ_HOME="$(mktemp -d)" "$PY" -m pytest -q -p no:warnings \
      tests/desktop/test_desktop_first_run.py -x >"/tmp/first_run_$i.log" 2>&1; then
    passed=$((passed + 1)); echo "run $i: PASS ($(( $(date +%s) - start )) s)"
  else
    echo "run $i: FAIL ($(( $(date +%s) - start )) s), log /tmp/first_run_$i.log"
  fi
done
echo "$passed of $RUNS passed with $SPIN busy-loop processes on $(nproc) cores"
[ "$passed" -eq "$RUNS" ]
