"""What every progress reporter shares: the status line, the final state shown in place of a live display,
and the counting of rows and pages with the stop request (see :mod:`cassnb.progress`)."""

from __future__ import annotations

import html
import time

from ._stop import StopSignal


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _status(rows: int, pages: int, elapsed: float | None, detail: str = "") -> str:
    """``12,345 rows · 3 pages · 45,000 rows/s · 0:00:03`` (without the timings when ``elapsed`` is None).

    ``detail`` (e.g. ``12/32 token ranges``) follows the page count.
    """
    parts = [_plural(rows, "row"), _plural(pages, "page"), *([detail] if detail else [])]
    if elapsed is not None:
        rate = rows / elapsed if elapsed > 0 else 0.0
        parts += [f"{rate:,.0f} rows/s", _clock(elapsed)]
    return " · ".join(parts)


#: What a reader can do after each way a read ends, shown after the outcome (the magics pass their own).
DEFAULT_HINTS = {
    "stopped": "the rows so far are kept: `await cassnb.more(frame)` on the returned frame continues",
    "interrupted": "the rows so far are kept: `await cassnb.more(frame)` on the returned frame continues",
}


def _style_of(outcome: str) -> str:
    """The bar style of a read that ended with ``outcome``: a stop keeps the rows, so it is no error."""
    if outcome == "done":
        return "success"
    return "warning" if outcome in ("stopped", "interrupted") else "danger"


_COLORS = {"success": "#2e7d32", "warning": "#ef6c00", "danger": "#c62828", "info": "#1565c0"}


class FinalState:
    """The static output a progress display leaves behind: one line, as HTML and as text."""

    def __init__(self, text: str, style: str) -> None:
        self.text, self.style = text, style

    def _repr_html_(self) -> str:

        color = _COLORS.get(self.style, "#616161")
        return (
            f"<div class='cassnb-progress cassnb-{self.style}' style='border-left: 4px solid {color}; "
            f"padding: 2px 8px; font-family: monospace'>{html.escape(self.text)}</div>"
        )

    def __repr__(self) -> str:
        return self.text


class _Counting:
    """State shared by the reporters: the totals, the start time, the stop request and the end hints."""

    def __init__(self, stop: StopSignal | None = None, hints: dict[str, str] | None = None) -> None:
        self.rows = 0
        self.pages = 0
        self.detail = ""
        self.description = ""
        self.hints = DEFAULT_HINTS if hints is None else hints
        self._started = time.monotonic()
        self._stop = stop or StopSignal()

    def _final_line(self, outcome: str, *, timings: bool = True) -> str:
        hint = self.hints.get(outcome)
        line = f"{_status(self.rows, self.pages, self.elapsed if timings else None, self.detail)} · {outcome}"
        return f"{line} — {hint}" if hint else line

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _begin(self, description: str) -> None:
        self.description = description
        self._started = time.monotonic()

    def _count(self, rows: int, pages: int, detail: str = "") -> None:
        self.rows, self.pages, self.detail = rows, pages, detail

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started
