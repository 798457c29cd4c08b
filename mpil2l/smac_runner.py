"""`mpil2l.smac.runner` (the SMAC v1 runner) under the module path that scripts written for
earlier releases import: importing either gives the same module."""

import sys

from .smac import runner as _module

sys.modules[__name__] = _module
