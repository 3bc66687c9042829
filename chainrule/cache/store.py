"""The on-disk cache of generated code: JSON metadata plus ``.npz`` constants, never pickles.

Layout under the cache directory (``$CHAINRULE_CACHE_DIR`` or ``~/.cache/chainrule``, mode
0700): ``entries/<digest>.json`` (key parts, dependencies, generated sources, result template),
``entries/<digest>.npz`` (array constants, loaded with ``allow_pickle=False``) and ``src/``
(the generated source files; Numba keeps its machine code in ``src/__pycache__``). Writes are
atomic (temporary file + rename), so concurrent processes never see half an entry; an entry that
cannot be read, has another format, or whose recorded key parts differ from the requested ones
is ignored and rebuilt.

The directory has a size bound (``$CHAINRULE_CACHE_MAX_MB``, default 256 MB): after a new entry
is written and the directory is over the bound, whole groups of files (an entry's JSON and
``.npz``; a generated source with Numba's files for it) are removed, least recently used first,
until it is under 80% of the bound. Use is the file's modification time, which a cache hit
refreshes; a generated source that was evicted is written again when it is next loaded.
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
        evict(max_bytes())
    except OSError:
        pass


DEFAULT_MAX_MB = 256


def max_bytes() -> int:
    """The size bound of the cache directory (``CHAINRULE_CACHE_MAX_MB``, default 256)."""
    try:
        mb = float(os.environ.get("CHAINRULE_CACHE_MAX_MB", DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(mb * 1024 * 1024)


def _groups(root: Path) -> dict[str, list[Path]]:
    """Files that live and die together: ``entries/<key>.*``; ``src/<stem>.py`` with Numba's
    ``src/__pycache__/<stem>.*`` files."""
    groups: dict[str, list[Path]] = {}
    for sub in ("entries", "src", "src/__pycache__"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and not path.name.startswith(".tmp-"):
                top = "entries" if sub == "entries" else "src"
                groups.setdefault(f"{top}/{path.name.split('.')[0]}", []).append(path)
    return groups


def evict(limit: int) -> int:
    """Remove least recently used groups of files while the cache is over ``limit`` bytes
    (down to 80% of it); return the number of files removed."""
    root = cache_dir()
    sized: list[tuple[float, int, list[Path]]] = []
    total = 0
    for files in _groups(root).values():
        try:
            stats = [p.stat() for p in files]
        except OSError:
            continue
        size = sum(st.st_size for st in stats)
        total += size
        sized.append((max(st.st_mtime for st in stats), size, files))
    if total <= limit:
        return 0
    removed = 0
    for _, size, files in sorted(sized, key=lambda t: t[0]):
        if total <= 0.8 * limit:
            break
        for path in files:
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        total -= size
    return removed


def touch(path: Path) -> None:
    """Mark a cache file as just used (for least-recently-used eviction)."""
    try:
        os.utime(path)
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
            touch(folder / f"{key}.npz")
        touch(path)
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
        "max_bytes": max_bytes(),
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
