# One-command set-up: `make demo` and `make test` create .venv (MPI included, from the PyPI
# `mpich` wheel) the first time and reuse it afterwards.
PYTHON ?= python3
VENV   ?= .venv
NP     ?= 4
BIN    := $(VENV)/bin
EXTRAS ?= mpich,test,smac
BIN_P_PIP = $(PENV) $(PBIN)/pip install

.PHONY: venv demo test bench bench-smac clean l2l-venv compare-l2l parallel-venv test-parallel bench-results-log

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

# The parallel HDF5 stack (Debian): HDF5 and MPICH 4 from apt, a venv of its own whose mpi4py
# (the PyPI wheel) finds Debian's MPICH through a libmpi.so.12 symlink on LD_LIBRARY_PATH, and
# h5py compiled against HDF5's MPI build. Never the `mpich` wheel here: one MPI per venv.
PVENV    ?= .venv-parallel
PBIN     := $(PVENV)/bin
PLIB     := $(abspath $(PVENV))/mpilib
PENV     := LD_LIBRARY_PATH="$(PLIB)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}" PATH="$(abspath $(PBIN)):$$PATH"
APT_HDF5 ?= libhdf5-mpich-dev
PARALLEL_TESTS ?= tests/storage tests/experiment/test_resume_mpi.py tests/experiment/test_history_mpi.py

parallel-venv: $(PVENV)/.installed

$(PVENV)/.installed: pyproject.toml
	@if ! pkg-config --exists hdf5-mpich mpich || ! test -x /usr/bin/mpicc.mpich; then \
		echo "installing $(APT_HDF5) (parallel HDF5 + MPICH) with apt-get"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_HDF5); \
	fi
	$(PYTHON) -m venv $(PVENV)
	mkdir -p $(PLIB)
	ln -sf $$(pkg-config --variable=libdir mpich)/libmpich.so.12 $(PLIB)/libmpi.so.12
	printf '#!/bin/sh\nexec /usr/bin/mpiexec.mpich "$$@"\n' > $(PBIN)/mpiexec && chmod +x $(PBIN)/mpiexec
	$(BIN_P_PIP) --quiet --upgrade pip setuptools wheel Cython pkgconfig numpy mpi4py
	CC=/usr/bin/mpicc.mpich HDF5_MPI=ON HDF5_PKGCONFIG_NAME=hdf5-mpich \
		$(BIN_P_PIP) --no-binary=h5py --no-build-isolation h5py
	$(BIN_P_PIP) --quiet -e ".[test]"
	$(PENV) $(PBIN)/python -c "import h5py; from mpi4py import MPI; assert h5py.get_config().mpi, 'h5py without MPI'; print('parallel h5py', h5py.version.version, 'HDF5', h5py.version.hdf5_version, '|', MPI.Get_library_version().splitlines()[0])"
	touch $@

# The results-log tests again with the parallel h5py (every backend, MPI runs included).
test-parallel: parallel-venv
	$(PENV) $(PBIN)/python -m pytest -q $(PARALLEL_TESTS)

bench-results-log: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/bench_results_log.py --np $(NP)

clean:
	rm -rf $(VENV) $(L2L_VENV) $(PVENV) demo-results *.egg-info

.PHONY: docs
docs: venv
	$(BIN)/python scripts/make_docs.py
