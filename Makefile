# Two set-up commands: `make demo` (the main job: train a CNN on MNIST) and `make test` (run every test).
# Each creates the virtual environment .venv and installs what it needs from the project's own files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch (test oracle only) comes from a local wheel folder when the machine has one.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
# Benchmarks run without the machine's OpenBLAS overrides, which slow a current NumPy ~2x.
BENCH_ENV := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE

.PHONY: demo tour test bench install install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[plot]'
	touch $@

# The browser tests drive Debian's chromium (a browser download of playwright's own cannot work offline).
$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet $(FIND_LINKS) -e '.[test]'
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(VENV)/bin/convscope train

tour: install
	$(VENV)/bin/convscope demo

test: install-test
	$(PY) -m pytest -q

bench: install-test
	$(BENCH_ENV) $(PY) bench/bench_layers.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
