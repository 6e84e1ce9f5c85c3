# LINA explorer: `make run` starts the app, `make test` runs the tests.
# Both create .venv with `python3 -m venv` if it is missing, and (re)install the requirements only
# when the requirements file changed since the last install (stamp files inside .venv).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 7860
# test worker processes, one torch thread each (two torch processes of 2 threads on 2 cores
# run ~10x slower); one file per worker keeps module-scoped fixtures built once
JOBS   ?= 2
PYTEST := HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False OMP_NUM_THREADS=1 \
          $(PY) -m pytest -q -n $(JOBS) --dist loadfile

.DEFAULT_GOAL := help
.PHONY: help venv run test test-fast space reproduce chromium clean distclean

help:
	@echo "make run        start the app on http://$(HOST):$(PORT)"
	@echo "make test       run the tests (CPU, offline)"
	@echo "make test-fast  the fast lane (run on every change): every test not marked slow"
	@echo "make space      write a ready Hugging Face Space folder to build/space (ZEROGPU=1 for ZeroGPU)"
	@echo "make reproduce  data -> train -> eval -> grid -> fit -> bench -> probes (hours; QUICK=1: a smoke run into build/)"
	@echo "make venv       create .venv with the run and test requirements"
	@echo "make clean      remove caches and test output (keeps .venv)"
	@echo "make distclean  clean, and remove .venv"

$(PY):
	$(PYTHON) -m venv $(VENV)

# requirements.txt pins torch==2.13.0 (the CPU build); never loosen it here.
# Bytecode: pip's own byte-compile runs on one core over every file it installs (~17,000, of
# which the app and the tests import ~5,000), so it is off; instead every command below may write
# the .pyc of what it imports (PYTHONDONTWRITEBYTECODE, which this machine sets, is cleared for
# them), so the first import compiles what is used, once.  Measured on this machine: compileall
# over site-packages took 48 s on both cores; compiling what the test stack imports adds ~27 s of
# CPU to the first import (docs/PERFORMANCE.md).
export PYTHONDONTWRITEBYTECODE :=
PIP_INSTALL := $(PY) -m pip install --no-compile

$(VENV)/.stamp-run: requirements.txt | $(PY)
	$(PIP_INSTALL) -r requirements.txt
	@touch $@

$(VENV)/.stamp-test: requirements-dev.txt requirements.txt | $(PY)
	$(PIP_INSTALL) -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.stamp-test

run: $(VENV)/.stamp-run
	GRADIO_ANALYTICS_ENABLED=False $(PY) app.py --host $(HOST) --port $(PORT)

# Browser tests drive Debian chromium (no browser download). Install it when it is missing and we
# are root; never fail here: without it the browser tests skip and say why.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian chromium for the browser tests"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	    >/tmp/lina-apt-chromium.log 2>&1 \
	    && echo "chromium installed" \
	    || echo "warning: could not install chromium (see /tmp/lina-apt-chromium.log);" \
	            "browser tests will be skipped"; \
	else \
	  echo "note: chromium not found and cannot be installed here; browser tests will be skipped"; \
	fi

test: $(VENV)/.stamp-test chromium
	$(PYTEST) tests

test-fast: $(VENV)/.stamp-test
	$(PYTEST) -x -m "not slow" tests

space: $(VENV)/.stamp-run
	PYTHONPATH=. $(PY) scripts/make_space.py --out build/space $(if $(ZEROGPU),--zerogpu,)

# the whole pipeline (scripts/reproduce.py): full into runs/reproduce (+ docs/results/v2),
# QUICK=1 a smoke run into build/reproduce_quick; neither writes assets/
reproduce: $(VENV)/.stamp-run
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 PYTHONPATH=. $(PY) scripts/reproduce.py $(if $(QUICK),--quick,)

clean:
	rm -rf .pytest_cache .hypothesis .gradio flagged build *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
