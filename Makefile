# `make demo` and `make test` each set up everything they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean install golden browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/digest --config config.yaml demo

# The browser tests drive Debian's chromium; install it where we may (CI runs as root).
# Where it cannot be installed those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium not found: browser tests will be skipped"; fi; }

test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# Rewrites the email and social golden files; review the diff (git diff tests/*/golden).
golden: $(STAMP)
	$(BIN)/pytest tests/render/test_golden.py tests/social/test_golden.py --update-golden -q

bench: $(STAMP)
	$(BIN)/python benchmarks/collect.py
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/startup.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
