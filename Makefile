# jijiao — two commands on a fresh machine:
#   make demo   install everything into .venv and start the platform with a demo
#   make test   install everything into .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

DEMO_DB := sqlite:///$(CURDIR)/instance/demo.sqlite3

demo: $(STAMP)
	$(BIN)/jijiao plugins check
	$(BIN)/jijiao assess docs/demo-cases.yaml
	$(BIN)/jijiao demo --database $(DEMO_DB) --reset
	$(BIN)/jijiao audit verify --database $(DEMO_DB)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
