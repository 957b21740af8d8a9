# The two commands of the README. Both create ./.venv on first use (Python ≥ 3.10 as python3) and install
# nbtrain editable with the tested torch/torchvision pair from constraints.txt. Installing builds the
# JupyterLab extension (labextension/, needs Node.js + npm from the npm registry) into the environment.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.nbtrain-installed
CHROMIUM ?= /usr/bin/chromium
# the extension is rebuilt (by reinstalling) when its sources or the notebooks it bundles change
LABEXT_SOURCES := labextension/package.json labextension/package-lock.json labextension/tsconfig.json \
	$(wildcard labextension/src/*.ts labextension/scripts/*.mjs labextension/schema/*.json labextension/style/* notebooks/*.ipynb)

.PHONY: lab test test-binder install browser clean bench bench-gpu

$(STAMP): pyproject.toml constraints.txt $(LABEXT_SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# JupyterLab refuses to start as root without --allow-root (containers, CI-like machines run as root)
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(ALLOW_ROOT) notebooks/00-quickstart.ipynb

# Debian's Chromium for the real-browser tests (tests/browser), installed when missing (as root, or via sudo).
browser:
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM) || { echo "no $(CHROMIUM): install Debian's chromium package"; exit 1; }

test: $(STAMP) browser
	NBTRAIN_REQUIRE_BROWSER=1 $(PY) -m pytest

# Opt-in, slow: a fresh virtualenv from exactly binder/'s files, every notebook executed in it.
test-binder: $(STAMP)
	NBTRAIN_BINDER_TEST=1 $(PY) -m pytest tests/test_binder_env.py -v

# Timings (never part of the tests): ratios against a baseline measured side by side in the same run.
bench: $(STAMP)
	$(PY) bench/overhead.py

# The same on a CUDA GPU (all parts in a few minutes): run it on a machine that has one.
bench-gpu: $(STAMP)
	$(PY) bench/overhead.py --device cuda --rounds 5

clean:
	rm -rf $(VENV) build dist labextension/node_modules labextension/lib nbtrain/labextension tests/artifacts
