"""chainrule: automatic differentiation of ordinary Python/NumPy code, as written.

Functions are compiled from source to a typed IR, transformed (forward and reverse mode,
composable), and turned back into readable Python. See README.md for the supported subset.
"""

from . import errors
from .api import grad, hessian, jacfwd, jacrev, jit, jvp, show, show_ir, value_and_grad, vjp
from .errors import ChainruleError

__version__ = "0.1.0"

__all__ = [
    "ChainruleError",
    "__version__",
    "errors",
    "grad",
    "hessian",
    "jacfwd",
    "jacrev",
    "jit",
    "jvp",
    "show",
    "show_ir",
    "value_and_grad",
    "vjp",
]
