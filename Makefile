# sqbot — the two commands a newcomer needs are `make run` and `make test`.
# Both create .venv and install sqbot into it first (only again when pyproject.toml changes).

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test system-deps lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "sqbot needs Python 3.11 or newer (python3.11+ not found on PATH)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Initialise the embedded SQLite database under ./var with the demo office, then chat as a demo staff member.
run: $(STAMP)
	$(BIN)/sqbot init --demo
	$(BIN)/sqbot chat --as 王小明

## Lint, type-check and run the whole suite (every database test on SQLite and PostgreSQL).
test: $(STAMP) system-deps lint typecheck pytest

## A CJK font and LibreOffice Writer from Debian's packages (installed when run as root).
system-deps:
	@bash .ci/system-deps

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two processes or more (-n auto); the tests that start sqbot processes of their own share
# one of them (xdist_group "processes"), so they never compete with each other for the CPU.
pytest: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadgroup --durations=15

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
