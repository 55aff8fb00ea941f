# hookcore — `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.DEFAULT_GOAL := help
.PHONY: help venv install dev run test test-rust test-python lint bench load clean

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
# the Debian package that provides it. chromium: the console's browser tests (playwright drives it).
TEST_TOOLS := curl openssl chromium

test: $(PY) ## install what the tests need (curl, openssl, chromium, Python extras), run the Rust and Python tests, report coverage
	@missing=$$(for t in $(TEST_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "the tests need: $$missing (install them, e.g. sudo apt-get install $$missing)" >&2; exit 1; \
	  fi; \
	fi
	$(PIP) install --quiet -e '.[test]'
	cargo test --quiet
	rm -f .coverage .coverage.*
	status=0; $(VENV)/bin/coverage run -m pytest || status=$$?; \
	$(VENV)/bin/coverage combine --quiet && $(VENV)/bin/coverage report; \
	exit $$status

test-rust: ## Rust unit and property tests only
	cargo test

test-python: ## Python tests only (after `make dev` or `make test`)
	$(VENV)/bin/pytest

lint: ## ruff, cargo fmt --check, cargo clippy
	$(VENV)/bin/ruff check python tests benches examples
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

bench: dev ## micro benchmarks (Rust vs pure-Python baselines)
	$(VENV)/bin/pytest benches --benchmark-only --benchmark-group-by=group -p no:cacheprovider

load: dev ## load run: bare Granian vs hookcore ingress, same run (writes a table to stdout)
	$(PY) -m benches.load

clean: ## remove build output and the virtualenv
	rm -rf target $(VENV) .pytest_cache .hypothesis python/hookcore/*.so .coverage .coverage.* htmlcov
