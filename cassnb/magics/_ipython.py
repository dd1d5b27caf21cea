"""Typed entry points to the IPython helpers the magics use that ship without usable annotations.

``magic_arguments``, ``argument``, ``parse_argstring`` and ``display`` have no annotations, and the method
magic markers are annotated with a union that no decorator can satisfy; strict mypy rejects both. Going
through these few wrappers keeps the rest of the package fully checked.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

import IPython.core.magic as _magic_module
import IPython.core.magic_arguments as _arguments_module
import IPython.display as _display_module

F = TypeVar("F", bound=Callable[..., Any])

_magic: Any = _magic_module
_arguments: Any = _arguments_module
_display: Any = _display_module


def line_cell_magics(*names: str) -> Callable[[F], F]:
    """Register the decorated ``Magics`` method as a line and cell magic under each of ``names``."""

    def mark(func: F) -> F:
        for name in names:
            _magic.line_cell_magic(name)(func)
        return func

    return mark


def magic_arguments() -> Callable[[F], F]:
    """Build the method's argument parser from its ``@argument`` decorators (and add it to the docstring)."""
    return cast("Callable[[F], F]", _arguments.magic_arguments())


def argument(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """One option of the magic, with ``argparse.add_argument``'s parameters."""
    return cast("Callable[[F], F]", _arguments.argument(*args, **kwargs))


def parse_argstring(magic_func: Callable[..., Any], argstring: str) -> Any:
    """Parse ``argstring`` with the parser built by :func:`magic_arguments`; mistakes raise ``UsageError``."""
    return _arguments.parse_argstring(magic_func, argstring)


def display(*objects: object) -> None:
    """IPython's ``display``: show each object as a separate output of the current cell."""
    _display.display(*objects)


class DisplayHandle(Protocol):
    """What :func:`display_handle` returns: ``update`` replaces the displayed object in place."""

    def update(self, obj: object) -> None: ...


def display_handle(obj: object) -> DisplayHandle:
    """Display ``obj`` as an output that later calls can replace (IPython's ``display_id=True``)."""
    return cast("DisplayHandle", _display.display(obj, display_id=True))


def argument_parser(prog: str) -> argparse.ArgumentParser:
    """A parser for a subcommand: errors raise ``UsageError``; options are never abbreviated.

    No abbreviations, so that ``--password`` can never be read as ``--password-env``.
    """
    parser: argparse.ArgumentParser = _arguments.MagicArgumentParser(prog=prog)
    parser.allow_abbrev = False
    return parser


def parse_line(parser: argparse.ArgumentParser, argstring: str) -> argparse.Namespace:
    """Split ``argstring`` like a shell would and parse it with ``parser`` (from :func:`argument_parser`)."""
    return cast("argparse.Namespace", cast("Any", parser).parse_argstring(argstring))
