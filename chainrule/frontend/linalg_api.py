"""``np.linalg`` decompositions: ``slogdet cholesky eigh eigvalsh svd`` (and ``svdvals``).

Each factor of a decomposition is its own primitive (rules/decomp.py); the result is a
NamedTuple like NumPy's (``sign, logabsdet = np.linalg.slogdet(a)``, ``res.eigenvalues``), so
only the factors the code uses are computed. ``svd`` computes the reduced factors: with the
default ``full_matrices=True`` the matrix must be square (checked at run time: AssertionError
naming the call), as the extra columns of a full U or V have no derivative.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import UnsupportedCallError
from .numpy_args import atom, static_flag
from .signatures import Signed
from .values import static_number


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


def _lower_source(lw, p, name):
    """The matrix whose lower triangle holds the data (``UPLO='U'``: the transpose)."""
    a = atom(lw, p.a)
    uplo = p.UPLO.value if static_number(p.UPLO) else p.UPLO
    if uplo not in ("L", "U"):
        raise UnsupportedCallError(f"`{name}`: UPLO must be 'L' or 'U'", lw.b.loc)
    return a if uplo == "L" else lw.b.transpose(a, axes=None)


def _slogdet(lw, p, node):
    a = atom(lw, p.a)
    return SlogdetResult(lw.b.detsign(a), lw.b.logabsdet(a))


def _cholesky(lw, p, node):
    low = lw.b.cholesky(atom(lw, p.a))
    return lw.b.transpose(low, axes=None) if static_flag(lw, p.upper, "np.linalg.cholesky",
                                                         "upper") else low


def _eigh(lw, p, node):
    a = _lower_source(lw, p, "np.linalg.eigh")
    return EighResult(lw.b.eigvalsh(a), lw.b.eigh_vectors(a))


def _eigvalsh(lw, p, node):
    return lw.b.eigvalsh(_lower_source(lw, p, "np.linalg.eigvalsh"))


def _svd(lw, p, node):
    b = lw.b
    a = atom(lw, p.a)
    if static_flag(lw, p.hermitian, "np.linalg.svd", "hermitian"):
        raise UnsupportedCallError("np.linalg.svd: hermitian=True is not supported", b.loc,
                                   "use np.linalg.eigh for symmetric matrices")
    if not static_flag(lw, p.compute_uv, "np.linalg.svd", "compute_uv"):
        return b.svd_s(a)
    if static_flag(lw, p.full_matrices, "np.linalg.svd", "full_matrices"):
        square = b.eq(b.shape(a, axis=0), b.shape(a, axis=1))
        b.check(square, message=f"{b.loc}: np.linalg.svd with full_matrices=True needs a "
                                "square matrix here; pass full_matrices=False")
    return SVDResult(b.svd_u(a), b.svd_s(a), b.svd_vt(a))


def linalg_handlers() -> dict:
    """{callable: Signed handler} of this module (merged into the NumPy table)."""
    t = {
        np.linalg.slogdet: Signed("np.linalg.slogdet", "a", _slogdet),
        np.linalg.cholesky: Signed("np.linalg.cholesky", "a, /, *, upper=False", _cholesky),
        np.linalg.eigh: Signed("np.linalg.eigh", "a, UPLO='L'", _eigh),
        np.linalg.eigvalsh: Signed("np.linalg.eigvalsh", "a, UPLO='L'", _eigvalsh),
        np.linalg.svd: Signed("np.linalg.svd", "a, full_matrices=True, compute_uv=True, "
                              "hermitian=False", _svd),
    }
    svdvals = getattr(np.linalg, "svdvals", None)
    if svdvals is not None:
        t[svdvals] = Signed("np.linalg.svdvals", "x, /", lambda lw, p, node: lw.b.svd_s(
            atom(lw, p.x)))
    return t
