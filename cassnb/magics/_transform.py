"""Top-level ``%%cql`` cells, and cells of one ``%cql`` line, run awaited on the kernel's own loop.

IPython calls a magic as a plain function, which blocks the kernel's thread until it returns: while a long
read runs, the kernel handles no messages, so a click on a progress widget's Stop button would only arrive
after the read has ended. A cell that *awaits* is different: ipykernel keeps serving messages (widget clicks
among them) while the cell waits on the loop. So the magics register an input transformer that rewrites::

    %%cql --out big                 ->   await get_ipython().magics_manager.registry["CqlMagic"].cql_async(
    SELECT * FROM big                        "--out big", "SELECT * FROM big\\n")

and ``x = %cql more big`` the same way. Only cells IPython can await are rewritten: when ``%autoawait`` is on,
for a cell magic on the cell's first line, or for a cell that is a single ``%cql`` line. Everything else (a
``%cql`` line inside a function or a loop, ``%%cql?`` help) goes through IPython's own magic machinery and runs
blocking (see :mod:`cassnb.magics._host`). The transformer runs before IPython's own, and is marked as having
side effects so that IPython's "is this input complete?" check (terminals) does not use it.
"""

from __future__ import annotations

import re
from typing import Any

_CALL = 'await get_ipython().magics_manager.registry["CqlMagic"].cql_async'
_CELL = re.compile(r"%%(?:cql|cassnb)(?=\s|$)(.*)")
_LINE = re.compile(r"(?:([A-Za-z_][A-Za-z0-9_]*)\s*=\s*)?%(?:cql|cassnb)(?=\s|$)(.*)")


class AwaitingCells:
    """The input transformer (a list of lines in, a list of lines out)."""

    has_side_effects = True  # keep it out of IPython's check_complete

    def __init__(self, shell: Any) -> None:
        self.shell = shell

    def __call__(self, lines: list[str]) -> list[str]:
        if not lines or not getattr(self.shell, "autoawait", False):
            return lines
        first = lines[0].rstrip("\r\n")
        cell = _CELL.fullmatch(first)
        if cell is not None:
            if first.rstrip().endswith("?"):  # %%cql? asks for help
                return lines
            return [f"{_CALL}({cell[1].strip()!r}, {''.join(lines[1:])!r})\n"]
        code = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if len(code) != 1:
            return lines
        line = _LINE.fullmatch(code[0].rstrip("\r\n"))  # at the first column: not inside a block
        if line is None or line[2].rstrip().endswith("?"):
            return lines
        target = f"{line[1]} = " if line[1] else ""
        return [f"{target}{_CALL}({line[2].strip()!r})\n"]


def install(shell: Any) -> AwaitingCells:
    transformer = AwaitingCells(shell)
    shell.input_transformers_cleanup.append(transformer)
    return transformer


def uninstall(shell: Any) -> None:
    cleanup = shell.input_transformers_cleanup
    cleanup[:] = [transform for transform in cleanup if not isinstance(transform, AwaitingCells)]
