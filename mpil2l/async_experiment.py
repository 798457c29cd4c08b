"""`mpil2l.experiment.asynchronous` (the asynchronous driver) under the module path that
scripts written for earlier releases import: importing either gives the same module."""

import sys

from .experiment import asynchronous as _module

sys.modules[__name__] = _module
