# hookcore — `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.DEFAULT_GOAL := help
.PHONY: help venv wheel install dev run test test-rust test-python docs-check lint bench bench-compare bench-tools clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

venv: $(PY) ## create the virtualenv in .venv

# The wheel operators install (docs/operations.md): manylinux_2_28, so it runs on any Linux of
# this machine's architecture with glibc 2.28 or newer, whatever glibc built it: zig (the
# `ziglang` wheel) links against glibc 2.28's symbols, and auditwheel checks the tag the wheel
# claims. The version in its name is Cargo.toml's.
WHEEL_TOOLS := 'maturin[zig]>=1.9,<2' 'auditwheel>=6'
WHEEL_PLATFORM := manylinux_2_28
# A shell glob (make's $(wildcard) would not see the file a recipe just made); `wheel`
# leaves exactly one in dist/.
WHEEL := dist/hookcore-*-$(WHEEL_PLATFORM)_*.whl

wheel: $(PY) ## build the manylinux wheel (release build of the Rust core) into dist/ and check its platform tag
	$(PIP) install --quiet $(WHEEL_TOOLS)
	rm -f dist/hookcore-*.whl
	PATH="$(abspath $(VENV))/bin:$$PATH" maturin build --release --compatibility $(WHEEL_PLATFORM) --zig --out dist
	@$(VENV)/bin/auditwheel show $(WHEEL) | tr -s ' \n' ' ' \
	  | grep -q 'consistent with the following platform tag: "$(WHEEL_PLATFORM)_' \
	  || { $(VENV)/bin/auditwheel show dist/hookcore-*.whl; echo "dist/ holds no $(WHEEL_PLATFORM) wheel" >&2; exit 1; }
	@echo "built" $(WHEEL) "(auditwheel: $(WHEEL_PLATFORM))"

# `pip uninstall` first: an editable install of the same version (`make dev`) would otherwise
# count as already satisfying the wheel.
install: wheel ## install that wheel into .venv
	$(PIP) uninstall -qq --yes hookcore
	$(PIP) install --quiet $(WHEEL)

dev: $(PY) ## editable install with test and bench extras
	$(PIP) install --quiet -e '.[test,bench]'

run: install ## run hookcore on its embedded default: nats-server, ingress, worker, example
	$(VENV)/bin/hookcore up

# Tools the tests run (a missing one fails its tests: skips count as failures); each is also
# the Debian package that provides it. chromium: the console's browser tests (playwright drives it);
# wrk: the load benches' one untimed pass.
TEST_TOOLS := curl openssl chromium wrk

# The Python suite runs in two pytest processes (pytest-xdist), each test module whole in one
# of them with its module-scoped nats-server and hookcore: the suite mostly waits on processes
# and sockets, so two at a time roughly halve it, on this 2-core machine too (docs/testing.md).
PYTEST_PROCESSES := -n 2 --dist loadscope

test: wheel ## build the wheel, install it and what the tests need (curl, openssl, chromium, wrk, Python extras) into .venv, lint, run the Rust tests, every bench once (short, untimed), the Python tests, report coverage
	@missing=$$(for t in $(TEST_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "the tests need: $$missing (install them, e.g. sudo apt-get install $$missing)" >&2; exit 1; \
	  fi; \
	fi
	$(PIP) uninstall -qq --yes hookcore
	$(PIP) install --quiet "$$(echo $(WHEEL))[test,bench]"
	@$(MAKE) --no-print-directory lint
	cargo test --quiet
	$(VENV)/bin/pytest benches --benchmark-disable -p no:cacheprovider -q
	rm -f .coverage .coverage.*
	status=0; $(VENV)/bin/coverage run -m pytest $(PYTEST_PROCESSES) || status=$$?; \
	$(VENV)/bin/coverage combine --quiet && $(VENV)/bin/coverage report; \
	exit $$status

test-rust: ## Rust unit and property tests only
	cargo test

test-python: ## Python tests only (after `make dev` or `make test`)
	$(VENV)/bin/pytest $(PYTEST_PROCESSES)

docs-check: ## run the code blocks of README.md and docs/*.md that can run on one machine (after `make dev` or `make test`; make test runs them too)
	$(VENV)/bin/pytest -p no:cacheprovider tests/unit/test_docs_blocks.py tests/unit/test_cli_docs.py \
	  tests/integration/test_docs_on_a_server.py

LINTED := python tests benches examples

lint: ## ruff (check and format), mypy --strict, stubtest (_core.pyi against the built module), cargo fmt --check, cargo clippy -D warnings
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy python/hookcore
	$(VENV)/bin/python -m mypy.stubtest hookcore._core
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
	rm -rf target dist $(VENV) .pytest_cache .hypothesis python/hookcore/*.so .coverage .coverage.* htmlcov
