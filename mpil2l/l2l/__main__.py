"""``mpiexec -n 4 python -m mpil2l.l2l script.py [args]``: runs an L2L script unchanged on
MPI ranks, its ``l2l`` imports resolved to mpil2l (see `mpil2l.compat`)."""

import os
import runpy
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        sys.stderr.write("usage: python -m mpil2l.l2l SCRIPT.py [ARGS...]\n")
        return 2
    script = argv[0]
    if not os.path.isfile(script):
        sys.stderr.write(f"mpil2l.l2l: no such script: {script}\n")
        return 2
    import mpil2l.l2l.module_map  # noqa: F401 (installs the l2l modules)

    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
