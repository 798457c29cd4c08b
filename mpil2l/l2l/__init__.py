"""L2L compatibility: the map from L2L's module names to mpil2l's (`module_map`, installed by
``import mpil2l.compat``) and ``python -m mpil2l.l2l SCRIPT.py``, which runs an L2L script
unchanged on MPI ranks."""
