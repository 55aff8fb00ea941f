# hookcore — `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.DEFAULT_GOAL := help
.PHONY: help venv install dev run test test-rust test-python lint bench bench-compare bench-tools clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

venv: $(PY) ## create the virtualenv in .venv

install: $(PY) ## install hookcore (release build of the Rust core) into .venv
	$(PIP) install --quiet .

dev: $(PY) ## editable install with test and bench extras
	$(PIP) install --quiet -e '.[test,bench]'

run: install ## run hookcore on its embedded default: nats-server, ingress, worker, example
	$(VENV)/bin/hookcore up

# Tools the tests run (a missing one fails its tests: skips count as failures); each is also
# the Debian package that provides it. chromium: the console's browser tests (playwright drives it);
# wrk: the load benches' one untimed pass.
TEST_TOOLS := curl openssl chromium wrk

test: $(PY) ## install what the tests need (curl, openssl, chromium, wrk, Python extras), lint, run the Rust tests, every bench once (short, untimed), the Python tests, report coverage
	@missing=$$(for t in $(TEST_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "the tests need: $$missing (install them, e.g. sudo apt-get install $$missing)" >&2; exit 1; \
	  fi; \
	fi
	$(PIP) install --quiet -e '.[test,bench]'
	@$(MAKE) --no-print-directory lint
	cargo test --quiet
	$(VENV)/bin/pytest benches --benchmark-disable -p no:cacheprovider -q
	rm -f .coverage .coverage.*
	status=0; $(VENV)/bin/coverage run -m pytest || status=$$?; \
	$(VENV)/bin/coverage combine --quiet && $(VENV)/bin/coverage report; \
	exit $$status

test-rust: ## Rust unit and property tests only
	cargo test

test-python: ## Python tests only (after `make dev` or `make test`)
	$(VENV)/bin/pytest

LINTED := python tests benches examples

lint: ## ruff (check and format), mypy --strict, cargo fmt --check, cargo clippy -D warnings
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy python/hookcore
	cargo fmt --all -- --check
	cargo clippy --quiet --all-targets -- -D warnings

BENCH_STORAGE := benches/.results
BENCH_ARGS ?=

bench-tools: ## install wrk, the load generator, when missing (apt-get as root)
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing wrk"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else \
	    echo "the load runs need wrk (e.g. sudo apt-get install wrk)" >&2; exit 1; \
	  fi; \
	}

bench: dev bench-tools ## micro benches and load runs (~7 min after the build), saved in benches/.results; regenerates benches/RESULTS.md (BENCH_ARGS='--load-duration 5' to change a run)
	$(VENV)/bin/pytest benches -p no:cacheprovider --benchmark-only --benchmark-group-by=group \
	  --benchmark-storage=file://$(BENCH_STORAGE) --benchmark-autosave $(BENCH_ARGS)
	$(PY) -m benches.report

bench-compare: ## what moved from BASE (a run number such as 0003, a path, or `committed`; default: the run before) to the latest run; fails if a ratio fell >10 %
	$(PY) -m benches.compare --times $(BASE)

clean: ## remove build output and the virtualenv
	rm -rf target $(VENV) .pytest_cache .hypothesis python/hookcore/*.so .coverage .coverage.* htmlcov
