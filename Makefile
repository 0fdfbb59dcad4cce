# mpcbench: `make demo` runs a small real sweep and writes the report; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
RESULTS ?= results
REPORT  ?= report

SUITES := crypten frameworks three micro baselines network network_quick network16 emulator_overhead roles7 dealer training zoo zoo_quick rewrite full

.PHONY: install demo test test-deps docs clean $(addprefix bench-,$(SUITES))

# torch is the local CPU wheel; crypten and spu go in without their dependency pins
# (crypten's pull torchvision and a CUDA torch, spu's numpy<2, which pandas 3 cannot run
# on); their real runtime dependencies come from setup.cfg (spu's: the extra "spu", jax
# 0.4.34 on numpy 2). They go in last: pip checks dependencies only when it installs
# them, so no later step of ours complains in red that their pins are not met.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,spu]'
	$(BIN)/pip install -q --no-deps crypten==0.4.1 spu==0.9.5
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/mpcbench sweep benchmarks/demo.yaml --results $(RESULTS)
	$(BIN)/mpcbench results --results $(RESULTS)
	$(BIN)/mpcbench report --results $(RESULTS) --out $(REPORT)
	@echo "the report: $(REPORT)/index.html; the command: $(BIN)/mpcbench --help (or . $(BIN)/activate, then mpcbench --help)"

# Debian packages the tests use: OpenSSH (server and client: parties on separate hosts
# over real ssh; required) and headless Chromium (renders the report; skipped if missing).
test-deps:
	@command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || { \
	  apt-get update -qq && apt-get install -y -qq openssh-server openssh-client >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: the report rendering test will be skipped"; }

# The import contracts (setup.cfg [importlinter]) fail the build like a failing test. Unit
# tests run in two processes; integration tests one at a time (each starts its parties).
# Each prints its slowest tests: where to trim when the suite grows.
test: install test-deps
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --durations=15 tests/unit
	$(BIN)/pytest --durations=25 tests/integration

# docs/results-columns.md from the results schema (tests/unit/test_docs.py checks it is current).
docs: install
	$(BIN)/python -m mpcbench.results.columns_doc

# Benchmarks (not tests): one sweep each into results/<suite>, then its summary table.
$(addprefix bench-,$(SUITES)): bench-%: install
	$(BIN)/mpcbench sweep benchmarks/$*.yaml --results $(RESULTS)/$*
	$(BIN)/mpcbench results --results $(RESULTS)/$*

clean:
	rm -rf $(VENV) $(RESULTS) $(REPORT)
