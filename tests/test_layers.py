"""Imports point down the layers only (docs/architecture.md, "Layers").

Every ``import`` in the package, at module level or inside a function, is checked: a module may
import from its own layer or a lower one. Upper layers that lower ones must reach (the public
transforms called inside compiled code, ``stop_gradient``, the ``custom_call`` primitive, the IR
compilation ``rewrites.fired`` needs) register themselves at import instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import chainrule

PACKAGE = Path(chainrule.__file__).parent

# Bottom to top. A top-level module not named here belongs to the top layer.
LAYERS = [
    {"errors", "version", "progress", "pytree", "runtime", "memo"},
    {"ir"},
    {"rules"},
    {"rewrites"},
    {"transforms"},
    {"passes"},
    {"backend"},
    {"frontend"},
    {"cache"},
]
TOP = len(LAYERS)


def layer_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # the package itself: its __init__ gathers the public API
        return TOP
    for i, names in enumerate(LAYERS):
        if parts[1] in names:
            return i
    return TOP


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or target == "chainrule":  # "from . import x": x itself
                out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return [(line, t) for line, t in out if t.split(".")[0] == "chainrule"]


def upward_imports(root: Path = PACKAGE) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        for line, target in imported_modules(path, root):
            if layer_of(target) > layer_of(name):
                bad.append(f"{path.relative_to(root.parent)}:{line}: {name} imports {target}")
    return bad


def test_imports_point_down_only():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path):
    pkg = tmp_path / "chainrule"
    (pkg / "ir").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .api import grad\n")
    (pkg / "ir" / "__init__.py").write_text("")
    (pkg / "ir" / "bad.py").write_text(
        "from . import nodes\n\ndef f():\n    from ..frontend.compile import Compiled\n"
        "    import chainrule.api\n")
    assert upward_imports(pkg) == [
        "chainrule/ir/bad.py:4: chainrule.ir.bad imports chainrule.frontend.compile",
        "chainrule/ir/bad.py:5: chainrule.ir.bad imports chainrule.api"]


def test_compile_caches_are_bounded_and_hold_functions_weakly():
    import gc

    from chainrule.memo import CompileCache

    cache = CompileCache(maxsize=3)
    keep = []
    for i in range(5):
        def f(x, i=i):
            return x + i
        keep.append(f)
        cache.put(f, "k", i)
    assert len(cache) == 3 and cache.get(keep[0], "k") is None and cache.get(keep[4], "k") == 4

    def g(x):
        return x

    cache.put(g, "k", "g")
    assert cache.get(g, "k") == "g"
    ident = id(g)
    del g
    gc.collect()
    cache.put(keep[1], "k", 1)  # eviction takes the dead function's entry first
    assert all(k[0] != ident for k in cache._entries) and cache.get(keep[4], "k") == 4
