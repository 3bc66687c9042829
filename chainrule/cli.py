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
