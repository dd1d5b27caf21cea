"""Every Python example in docs/ runs against the real server.

Blocks fenced as ```python run in order, page by page, in one namespace per page (like notebook cells), with
top-level ``await`` allowed. A block preceded by ``<!-- fragment -->`` is illustrative and is skipped.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerAddress

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"(<!-- fragment -->\s*\n)?```python\n(.*?)```", re.S)


def python_blocks(page: Path) -> list[str]:
    return [code for fragment, code in BLOCK.findall(page.read_text()) if not fragment]


PAGES = sorted(p for p in DOCS.glob("*.md") if python_blocks(p))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page: Path, cassandra_address: ServerAddress) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}"}
    printed = io.StringIO()

    async def run_all() -> None:
        for number, code in enumerate(python_blocks(page), start=1):
            code = code.replace('"127.0.0.1"', f'"{cassandra_address.host}"')
            compiled = compile(code, f"{page.name}#block{number}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(compiled, namespace)
            if asyncio.iscoroutine(result):
                await result

    with contextlib.redirect_stdout(printed):
        asyncio.run(run_all())
    print(printed.getvalue())
    assert printed.getvalue(), f"the examples of {page.name} printed nothing"


def test_every_page_is_in_the_navigation() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    missing = [p.name for p in DOCS.glob("*.md") if p.name not in nav]
    assert missing == []
