# Two commands do everything on a fresh machine with Python 3.11+:
#   make run    set up .venv, then run the helpdesk (web chat and console on http://127.0.0.1:8080)
#   make test   set up .venv, then lint and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/helpdesk run

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.matcher_bench --help >/dev/null && echo "see docs/benchmarks.md for the benchmark commands"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
