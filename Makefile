# One-command set-up: `make demo` and `make test` create .venv (MPI included, from the PyPI
# `mpich` wheel) the first time and reuse it afterwards.
PYTHON ?= python3
VENV   ?= .venv
NP     ?= 4
BIN    := $(VENV)/bin
EXTRAS ?= mpich,test,smac

.PHONY: venv demo test bench bench-smac clean l2l-venv compare-l2l

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

demo: venv
	rm -rf demo-results
	$(BIN)/mpiexec -n $(NP) $(BIN)/python examples/ga_rastrigin.py --root demo-results

test: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q

bench: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/bench_runtime.py --np $(NP)

bench-smac: venv
	$(BIN)/mpiexec -n $(NP) $(BIN)/python scripts/bench_smac.py

# L2L (PyPI L2LforHPC) in an environment of its own, for scripts/compare_l2l.py only: it never
# enters mpil2l's dependencies.
L2L_VENV ?= .venv-l2l

l2l-venv: $(L2L_VENV)/.installed

$(L2L_VENV)/.installed:
	$(PYTHON) -m venv $(L2L_VENV)
	$(L2L_VENV)/bin/pip install --quiet --upgrade pip
	$(L2L_VENV)/bin/pip install --quiet "L2LforHPC==2.0.0b0"
	touch $@

compare-l2l: venv l2l-venv
	$(BIN)/python scripts/compare_l2l.py --l2l-python $(L2L_VENV)/bin/python

clean:
	rm -rf $(VENV) $(L2L_VENV) demo-results *.egg-info
