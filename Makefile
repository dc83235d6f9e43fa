# Two commands on a fresh machine: `make demo` runs the product on its embedded defaults,
# `make test` runs the whole test suite. Both create the virtual environment themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo serve test test-fast lint check-deploy bench i18n-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# `make demo PORT=8123` (or HOST=...) serves there, and the sign-in links it prints point there too
# (unless VILLAGEBOT_PUBLIC_URL is set: then links use that address).
demo: install
	$(BIN)/villagebot db upgrade
	$(BIN)/villagebot demo --host $(HOST) --port $(PORT)
	$(BIN)/villagebot serve --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/villagebot serve --host $(HOST) --port $(PORT)

test: install
	bash scripts/system-deps.sh
	$(BIN)/python -m pytest

lint: install
	$(BIN)/python -m ruff check bot tests bench
	$(BIN)/python -m mypy

check-deploy: install
	BIN=$(BIN) bash scripts/check-deploy.sh

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: install
	bash scripts/system-deps.sh
	$(BIN)/python -m bench

i18n-check: install
	$(BIN)/python -c "from bot.i18n import missing_translations as m; r = m(); print(r); raise SystemExit(any(r.values()))"

clean:
	rm -rf $(VENV) data .pytest_cache build *.egg-info
