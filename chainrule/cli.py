"""The ``chainrule`` command line.

Each subcommand is one function registered with :func:`command`::

    @command("name", arg("--flag", type=int, default=1, help="..."))
    def _name(args: argparse.Namespace) -> int:
        '''One-line help shown by ``chainrule --help``.'''
        ...

The function receives the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

Handler = Callable[[argparse.Namespace], int]

_COMMANDS: dict[str, tuple[Handler, tuple[tuple[tuple[str, ...], dict[str, Any]], ...]]] = {}


def arg(*flags: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """An argument spec for :func:`command`; takes what ``add_argument`` takes."""
    return flags, kwargs


def command(name: str, *arguments: tuple[tuple[str, ...], dict[str, Any]]):
    """Register the decorated function as subcommand ``name``; its docstring is the help."""

    def register(fn: Handler) -> Handler:
        _COMMANDS[name] = (fn, arguments)
        return fn

    return register


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    """Differentiate the bundled example programs and check them against finite differences."""
    from chainrule.examples import demo

    return demo.main()


@command("version")
def _version(args: argparse.Namespace) -> int:
    """Print the installed chainrule version."""
    print(_installed_version())
    return 0


@command("cache", arg("action", choices=["info", "clear"], help="info: where and how big; "
                                                                 "clear: delete every entry"))
def _cache(args: argparse.Namespace) -> int:
    """Show or clear the on-disk cache of generated code."""
    from chainrule import cache

    if args.action == "clear":
        print(f"removed {cache.clear()} files")
        return 0
    for key, value in cache.info().items():
        print(f"{key:10s} {value}")
    return 0


@command(
    "bench",
    arg("--workloads", default="", help="comma-separated subset of: lorenz, lorenz1k, "
                                        "brusselator, newton, mlp, gmm, gmm_bcast, "
                                        "mlp_batch, lstm, heat (default: all); pinn, "
                                        "taylor: run only when named"),
    arg("--quick", action="store_true", help="small sizes (Lorenz N=1000 only), shorter timing"),
    arg("--png", metavar="PATH", help="save a bar chart (needs matplotlib)"),
    arg("--json", metavar="PATH", help="save all measurements as JSON"),
    arg("--check", action=argparse.BooleanOptionalAction, default=True,
        help="check the gradients (finite differences, hand adjoints, peers); default on"),
    arg("--peers", default="jax,torch,autograd",
        help="comma-separated peer tools to run, or 'none'"),
    arg("--peer-python", metavar="PYTHON", help="interpreter for the peer tools"),
    arg("--backend", default="auto", choices=["auto", "numba", "numpy"],
        help="chainrule backend (default: auto = numba)"),
    arg("--min-time", type=float, default=None,
        help="seconds of repeats per measurement (default 0.2, --quick 0.1)"),
    arg("--no-compile", action="store_true",
        help="skip the cold-compile and warm-start subprocesses"),
)
def _bench(args: argparse.Namespace) -> int:
    """Run the benchmark suite of a source checkout (benchmarks/ next to chainrule/)."""
    import os
    import subprocess
    from pathlib import Path

    import chainrule

    root = Path(chainrule.__file__).resolve().parent.parent
    if not (root / "benchmarks" / "run.py").is_file():
        print("chainrule bench: the benchmarks/ directory is not next to this chainrule "
              f"({root / 'chainrule'}).\nIt ships with the source repository, not the package: "
              "install from a checkout with `pip install -e .` and run `chainrule bench` "
              "there, or run `python -m benchmarks.run` from the repository root.",
              file=sys.stderr)
        return 2
    argv = [sys.executable, "-m", "benchmarks.run"]
    for flag in ("workloads", "png", "json", "peers", "peer_python", "backend", "min_time"):
        value = getattr(args, flag)
        if value not in (None, ""):
            if flag in ("png", "json"):
                value = os.path.abspath(value)  # the run's working directory is the checkout
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    argv += ["--quick"] if args.quick else []
    argv += ["--no-compile"] if args.no_compile else []
    argv += [] if args.check else ["--no-check"]
    # A new process, so that the thread-count variables are set before NumPy is imported
    # (this one has imported it already).
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        env[var] = "1"
    return subprocess.call(argv, cwd=str(root), env=env)


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chainrule")
    except PackageNotFoundError:
        import chainrule

        return getattr(chainrule, "__version__", "unknown")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Source-to-source automatic differentiation of Python/NumPy code.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (fn, arguments) in _COMMANDS.items():
        summary = fn.__doc__.strip().splitlines()[0] if fn.__doc__ else None
        p = sub.add_parser(name, help=summary, description=summary)
        for flags, kwargs in arguments:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(_handler=fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "_handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
