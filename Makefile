# The two commands of the README. Both create or reuse the virtual environment at .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# demo needs only the core (and PyYAML for YAML configs); test needs every extra.
CORE_STAMP := $(VENV)/.runverdict-core
STAMP := $(VENV)/.runverdict-all

.PHONY: demo test bench lint clean-venv browser

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(CORE_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[yaml]"
	touch $(CORE_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[tensorflow,test,yaml,h5,mlflow,remote,dask]"
	touch $(STAMP) $(CORE_STAMP)

## demo: run the plan's gate (checks/run3.toml) on every bundled fixture run (no TensorFlow)
demo: $(CORE_STAMP)
	$(PY) fixtures/demo.py

## browser: Debian's headless chromium, for the HTML report's browser test
browser:
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

## test: the whole test suite
test: $(STAMP) browser
	$(PY) -m pytest -q -n 2

## bench: every benchmark, printed as one table
bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(PY) -m pip install --quiet "ruff>=0.4"
	$(PY) -m ruff check validators tests benchmarks fixtures

clean-venv:
	rm -rf $(VENV)
