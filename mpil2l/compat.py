"""`mpil2l.l2l.module_map` (the L2L compatibility layer) under the module path that scripts
written for earlier releases import: importing either gives the same module."""

import sys

from .l2l import module_map as _module

sys.modules[__name__] = _module
