# Two set-up commands: `make run` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run demo test pg-deps lint format bench bench-deps bench-smoke screenshots clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP) $@

run: $(STAMP)  ## open the console on built-in demo data (own SQLite file)
	$(BIN)/opsconsole --demo

# The suite runs in TEST_WORKERS pytest-xdist processes: most of its time is spent waiting
# (leases, polls, real subprocesses), not computing, so more workers than cores pays.
# --dist loadgroup keeps the tests on machine-global state (the real Postfix) in one worker
# (tests/conftest.py). TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 4

test: $(TEST_STAMP) pg-deps  ## the whole suite (storage and engine tests on SQLite and PostgreSQL)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

# The PostgreSQL half of the suite starts its own throwaway server (tests/helpers/pg.py) from
# the server binaries; without them those tests skip, saying so (OPSCONSOLE_REQUIRE_PG=1: fail).
pg-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	    else echo "no PostgreSQL server binaries: the PostgreSQL tests will skip" \
	      "(apt-get install postgresql)"; fi; }


# mypy and import-linter see the installed layout (core/ is opsconsole.core ...): a tree of
# links in .venv gives them that one package without moving a file.
LINT_TREE := $(VENV)/lint-tree

lint: $(TEST_STAMP)  ## ruff, the type checker and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@rm -rf $(LINT_TREE) && mkdir -p $(LINT_TREE)/opsconsole
	@for f in opsconsole/*; do ln -s "$(CURDIR)/$$f" $(LINT_TREE)/opsconsole/; done
	@for d in core storage tui; do ln -s "$(CURDIR)/$$d" $(LINT_TREE)/opsconsole/$$d; done
	cd $(LINT_TREE) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
	  --cache-dir $(CURDIR)/$(VENV)/mypy-cache -p opsconsole
	cd $(LINT_TREE) && PYTHONPATH=. $(CURDIR)/$(BIN)/lint-imports --config $(CURDIR)/pyproject.toml

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(TEST_STAMP) bench-deps  ## every benchmark with its ratio against a same-run baseline
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run_all

# The baselines need Debian's pflogsumm, postfix_exporter and sqlite3 CLI, and GNU time for
# peak RSS.
bench-deps:
	@command -v pflogsumm >/dev/null && command -v sqlite3 >/dev/null && test -x /usr/bin/time && \
	  command -v prometheus-postfix-exporter >/dev/null || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pflogsumm sqlite3 time \
	        prometheus-postfix-exporter >/dev/null; \
	    else echo "make bench needs: apt-get install pflogsumm sqlite3 time" \
	      "prometheus-postfix-exporter (as root)"; exit 2; fi; }

bench-smoke: $(TEST_STAMP)
	$(BIN)/python -m bench.run_all --smoke

screenshots: $(TEST_STAMP)  ## SVGs of the real app on seeded demo data
	$(BIN)/python -m tests.tui.screenshots screenshots

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
