# One-command set-up: `make demo` and `make test` create .venv (MPI included, from the PyPI
# `mpich` wheel) the first time and reuse it afterwards.
PYTHON ?= python3
VENV   ?= .venv
NP     ?= 4
BIN    := $(VENV)/bin
EXTRAS ?= mpich,test,smac

.PHONY: venv demo test bench bench-smac clean

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

clean:
	rm -rf $(VENV) demo-results *.egg-info
