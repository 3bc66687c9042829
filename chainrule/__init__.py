"""chainrule: automatic differentiation of ordinary Python/NumPy code, as written.

Functions are compiled from source to a typed IR, transformed (forward and reverse mode,
composable), and turned back into readable Python. See README.md for the supported subset.
"""

from . import errors, plugins, rewrites
from .api import (
    grad,
    hessian,
    jacfwd,
    jacrev,
    jit,
    jvp,
    last_kinks,
    show,
    show_ir,
    value_and_grad,
    vjp,
)
from .custom import custom_jvp, custom_vjp, register_primitive
from .frontend.opaque import opaque
from .errors import ChainruleError
from .inplace import into, jvp_into, vjp_into
from .nonsmooth import directional_derivative, stop_gradient
from .taylor_api import derivative, jet, laplacian
from .version import __version__
from .vmap_api import vmap

from . import api_hooks  # noqa: E402, F401, I001  (registers the API with the layers below)

__all__ = [
    "ChainruleError",
    "__version__",
    "custom_jvp",
    "custom_vjp",
    "derivative",
    "directional_derivative",
    "errors",
    "grad",
    "hessian",
    "into",
    "jacfwd",
    "jacrev",
    "jet",
    "jit",
    "jvp",
    "jvp_into",
    "laplacian",
    "last_kinks",
    "opaque",
    "plugins",
    "register_primitive",
    "rewrites",
    "show",
    "show_ir",
    "stop_gradient",
    "value_and_grad",
    "vjp",
    "vjp_into",
    "vmap",
]
