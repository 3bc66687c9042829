"""What the public API registers with the layers below it when the package is imported.

Lower layers never import the public modules (docs/architecture.md, "Layers"); where they must
reach them, the public side registers here: the lowerings of ``jvp``, ``vjp`` and the transform
factories (``grad``, ``jit``, ... and every callable marked ``__chainrule_transform_factory__``)
called inside compiled code (:mod:`chainrule.in_code`), and the IR compilation that
``chainrule.rewrites.fired`` runs.
"""

from __future__ import annotations

from typing import Any

from . import api, driver, in_code
from .frontend.calls import register_in_code
from .rewrites import install_ir_builder


def _lower_transform(lw: Any, f: Any, args: list, kwargs: dict, node: Any) -> Any:
    return in_code.transform_in_code(lw, f, args, kwargs)


def _build_for_rewrites(fun: Any, args: tuple) -> None:
    fun = fun if isinstance(fun, api.Transformed) else api.jit(fun)
    driver.build_top(fun, api._with_receiver(fun, args))


register_in_code(api.jvp, lambda lw, f, args, kwargs, node:
                 in_code.lower_jvp(lw, args, kwargs, node))
register_in_code(api.vjp, lambda lw, f, args, kwargs, node:
                 in_code.lower_vjp(lw, args, kwargs, node))
for _fn in api.TRANSFORMS:
    register_in_code(_fn, _lower_transform)
register_in_code("transform factory", _lower_transform)
install_ir_builder(_build_for_rewrites)
