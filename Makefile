# One command to set up and run the app, one to set up and run the tests (test-fast skips the slow ones).
VENV ?= .venv
export HF_HUB_OFFLINE = 1

.PHONY: setup run demo test test-fast lint
setup:
	bash scripts/setup.sh

run: setup
	$(VENV)/bin/python main.py

demo: setup
	$(VENV)/bin/python main.py demo

test: setup
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest

test-fast: setup
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest -m "not slow"

lint: setup
	$(VENV)/bin/ruff check .
