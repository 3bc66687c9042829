"""Command line: run N fuzz programs from a seed and print the failing ones (shrunk).

    python -m tests.fuzz.run --seed 0 -n 2000 [--backend numpy|numba] [--no-shrink]

Prints one line per failure and a summary (agree / rejected / discarded / failed, and the
failures and rejections by kind); failing programs are shrunk and printed in full.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

os.environ.setdefault("CHAINRULE_VERIFY", "1")

from .check import check
from .gen import generate
from .known import known_bug
from .shrink import shrink


def run(seed: int, count: int, backend: str, do_shrink: bool, out=sys.stdout) -> dict:
    stats: collections.Counter = collections.Counter()
    kinds: collections.Counter = collections.Counter()
    failures = []
    start = time.time()
    for s in range(seed, seed + count):
        p = generate(s)
        o = check(p.source, p.x, p.a, p.n, backend)
        stats[o.status] += 1
        if o.status in ("fail", "rejected"):
            kinds[f"{o.status}:{o.kind}"] += 1
        if o.status == "fail":
            known = known_bug(s, p.source)
            note = f" (known bug: {known})" if known else ""
            print(f"seed {s}: FAIL {o.kind}{note}: {o.detail[:300]}", file=out, flush=True)
            if known:
                kinds[f"fail:{o.kind} (known)"] += 1
                kinds[f"fail:{o.kind}"] -= 1
            else:
                failures.append((s, p, o))
    tested = count - stats["discard"]
    print(f"\n{count} programs from seed {seed} on {backend} in {time.time() - start:.0f} s: "
          f"{stats['discard']} discarded; of {tested} tested: "
          + ", ".join(f"{stats[k]} {k} ({100 * stats[k] / max(tested, 1):.1f}%)"
                      for k in ("agree", "rejected", "fail")), file=out)
    for k, c in kinds.most_common():
        if c:
            print(f"  {c:5d} {k}", file=out)
    if do_shrink:
        for s, p, o in failures:
            small = shrink(p.source, p.x, p.a, p.n, backend, o.kind)
            print(f"\n# seed {s}: {o.kind} (shrunk)\n{small}", file=out, flush=True)
    return {"stats": stats, "kinds": kinds, "failures": failures}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--backend", default="numpy", choices=("numpy", "numba"))
    ap.add_argument("--no-shrink", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.seed, args.n, args.backend, not args.no_shrink)
    return 1 if res["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
