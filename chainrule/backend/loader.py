"""Load generated source as a real module file so tracebacks and pdb show it.

The source is written (atomically) to ``<cache dir>/src/<name>_<hash>.py``, registered with
:mod:`linecache`, compiled with that filename and executed with the constants as globals.
"""

from __future__ import annotations

import functools
import hashlib
import linecache
import os
import sys
import tempfile
import types
from pathlib import Path


def cache_dir() -> Path:
    """The user's chainrule cache directory (``CHAINRULE_CACHE_DIR`` overrides), mode 0700."""
    env = os.environ.get("CHAINRULE_CACHE_DIR")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "chainrule"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@functools.lru_cache(maxsize=1)
def _runtime_stamp() -> bytes:
    """A hash of this package's sources (the run-time helpers generated code calls, which
    Numba compiles into it): part of a generated file's name, so that Numba's on-disk cache of
    that file never keeps code of helpers that have changed since."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.digest()


def load_source(name: str, source: str, consts: dict) -> object:
    """Execute ``source`` (defining function ``name``) from a real file; return the function."""
    digest = hashlib.sha256(source.encode() + _runtime_stamp()).hexdigest()[:16]
    try:
        path = cache_dir() / "src" / f"{name}_{digest}.py"
        if not path.exists() or path.read_text(encoding="utf-8") != source:
            write_atomic(path, source)
        else:
            os.utime(path)  # in use: least-recently-used eviction keeps it
        filename = str(path)
    except OSError:
        filename = f"<chainrule {name}_{digest}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    # A registered module, so that tools which look functions up by module (pickling, Numba's
    # on-disk cache) find it.
    modname = f"chainrule_generated_{name}_{digest}"
    module = sys.modules.get(modname)
    if module is None or getattr(module, "__chainrule_source__", None) != source:
        module = types.ModuleType(modname)
        module.__file__ = filename
        module.__dict__.update(consts)
        exec(compile(source, filename, "exec"), module.__dict__)
        module.__chainrule_source__ = source
        sys.modules[modname] = module
    fn = module.__dict__[name]
    fn.__chainrule_source__ = source
    return fn
