"""The on-disk cache of generated code: JSON metadata plus ``.npz`` constants, never pickles.

Layout under the cache directory (``$CHAINRULE_CACHE_DIR`` or ``~/.cache/chainrule``, mode
0700): ``entries/<digest>.json`` (key parts, dependencies, generated sources, result template),
``entries/<digest>.npz`` (array constants, loaded with ``allow_pickle=False``) and ``src/``
(the generated source files; Numba keeps its machine code in ``src/__pycache__``). Writes are
atomic (temporary file + rename), so concurrent processes never see half an entry; an entry that
cannot be read, has another format, or whose recorded key parts differ from the requested ones
is ignored and rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..backend.loader import cache_dir, write_atomic
from .key import FORMAT, dependencies_hold, digest


def entries_dir() -> Path:
    path = cache_dir() / "entries"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def save(parts: dict, deps: list, payload: dict, consts: dict) -> None:
    """Store one entry (best effort: a read-only or full disk only costs the cache)."""
    key = digest(parts)
    record = {"format": FORMAT, "parts": parts, "deps": deps, "payload": payload,
              "consts": sorted(consts)}
    try:
        folder = entries_dir()
        if consts:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
            os.close(fd)
            try:
                np.savez(tmp, **{k: np.asarray(v) for k, v in consts.items()})
                os.replace(tmp, folder / f"{key}.npz")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        write_atomic(folder / f"{key}.json", json.dumps(record, sort_keys=True))
    except OSError:
        pass


def load(parts: dict) -> tuple[dict, dict] | tuple[None, str]:
    """(payload, consts) for a valid entry, or (None, why it missed)."""
    key = digest(parts)
    folder = entries_dir()
    path = folder / f"{key}.json"
    if not path.exists():
        return None, "no entry with this key"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != FORMAT:
            return None, "entry has another format"
        if json.dumps(record["parts"], sort_keys=True) != json.dumps(parts, sort_keys=True):
            return None, "entry belongs to different key parts (ignored)"
        why = dependencies_hold(record["deps"])
        if why is not None:
            return None, f"dependency changed: {why}"
        consts: dict = {}
        if record["consts"]:
            with np.load(folder / f"{key}.npz", allow_pickle=False) as data:
                consts = {k: data[k] for k in record["consts"]}
        return record["payload"], consts
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"unreadable entry ignored ({type(exc).__name__})"


def explain(parts: dict) -> str:
    """Why ``parts`` hits or misses: the first differing part of the closest entry."""
    payload, why = load(parts)
    if payload is not None:
        return "hit"
    if why != "no entry with this key":
        return f"miss: {why}"
    best = None
    for path in sorted(entries_dir().glob("*.json")):
        try:
            other = json.loads(path.read_text(encoding="utf-8"))["parts"]
        except (OSError, ValueError, KeyError):
            continue
        same_fn = _same_function(other.get("function"), parts.get("function"))
        diff = [k for k in parts if json.dumps(parts[k], sort_keys=True)
                != json.dumps(other.get(k), sort_keys=True)]
        if same_fn and (best is None or len(diff) < len(best)):
            best = diff
    if best is None:
        return "miss: no entry for this function yet"
    return "miss: an entry for this function exists but differs in " + ", ".join(best)


def _same_function(a: Any, b: Any) -> bool:
    def ident(d: Any) -> Any:
        while isinstance(d, dict) and "fn" in d:
            d = d["fn"]
        if isinstance(d, dict) and "function" in d:
            return (d.get("module"), d.get("function"), d.get("file"))
        return None

    return ident(a) is not None and ident(a) == ident(b)


def info() -> dict:
    root = cache_dir()
    files = [p for p in root.rglob("*") if p.is_file()]
    return {
        "directory": str(root),
        "entries": len(list(entries_dir().glob("*.json"))),
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
    }


def clear() -> int:
    """Remove every cached entry, generated source and Numba cache file; return files gone."""
    root = cache_dir()
    n = sum(1 for p in root.rglob("*") if p.is_file())
    for child in root.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    return n
