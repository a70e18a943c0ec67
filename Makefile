# The two commands of the README. Both set everything up first (scripts/setup.sh).
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: demo test setup

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/genzoo demo

test: setup
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)
