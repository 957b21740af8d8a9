# The two commands of the README. Both create ./.venv on first use (Python ≥ 3.10 as python3) and install
# nbtrain editable with the tested torch/torchvision pair from constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.nbtrain-installed

.PHONY: lab test install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/00-quickstart.ipynb

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(VENV) build dist
