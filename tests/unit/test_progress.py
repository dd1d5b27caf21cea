"""Progress reporters without a server: which one is chosen, what each one prints or shows, and Stop."""

from __future__ import annotations

import asyncio
import io
import re
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import IPython
import pytest

from cassnb import _stop
from cassnb.exceptions import ConfigurationError
from cassnb.progress import (
    ENV_VAR,
    NullProgress,
    ProgressReporter,
    StaticProgress,
    StopSignal,
    TextProgress,
    WidgetProgress,
    choose_progress,
    stop_on_interrupt,
)

TIMING = re.compile(r"\d:\d\d|rows/s|\d+(\.\d+)?\s*s\b")


class ZMQInteractiveShell:
    """Stands in for ipykernel's shell: auto-detection looks at the class name, not the import."""


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def in_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())


@pytest.fixture
def no_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` raise ImportError


# ------------------------------------------------------------------------------------------ choose_progress
def test_an_explicit_reporter_is_used_as_given() -> None:
    reporter = StaticProgress()
    assert choose_progress(reporter) is reporter
    assert isinstance(reporter, ProgressReporter)


@pytest.mark.parametrize("spec", [False, None, "off"])
def test_off_means_null(spec: Any) -> None:
    assert type(choose_progress(spec)) is NullProgress


def test_named_modes(in_kernel: None) -> None:
    assert type(choose_progress("static")) is StaticProgress
    assert type(choose_progress("text")) is TextProgress
    assert type(choose_progress("widget")) is WidgetProgress


def test_auto_outside_a_kernel_is_text() -> None:
    assert IPython.get_ipython() is None
    assert type(choose_progress("auto")) is TextProgress
    assert type(choose_progress(True)) is TextProgress


def test_auto_inside_a_kernel_is_a_widget(in_kernel: None) -> None:
    assert type(choose_progress("auto")) is WidgetProgress


def test_a_terminal_ipython_shell_is_not_a_widget_frontend(monkeypatch: pytest.MonkeyPatch) -> None:
    class TerminalInteractiveShell:
        pass

    monkeypatch.setattr(IPython, "get_ipython", lambda: TerminalInteractiveShell())
    assert type(choose_progress("auto")) is TextProgress


def test_without_ipywidgets_the_widget_falls_back_to_text(in_kernel: None, no_ipywidgets: None) -> None:
    assert type(choose_progress("auto")) is TextProgress
    assert type(choose_progress("widget")) is TextProgress
    with pytest.raises(ImportError):
        WidgetProgress()


ENVIRONMENT = [
    ("static", StaticProgress),
    ("off", NullProgress),
    ("text", TextProgress),
    ("STATIC", StaticProgress),
]


@pytest.mark.parametrize(("setting", "expected"), ENVIRONMENT)
def test_the_environment_decides_what_auto_means(
    monkeypatch: pytest.MonkeyPatch, in_kernel: None, setting: str, expected: type
) -> None:
    monkeypatch.setenv(ENV_VAR, setting)
    assert type(choose_progress("auto")) is expected


def test_an_explicit_mode_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "static")
    assert type(choose_progress("text")) is TextProgress
    assert type(choose_progress(False)) is NullProgress


def test_auto_in_the_environment_is_plain_auto(monkeypatch: pytest.MonkeyPatch, in_kernel: None) -> None:
    monkeypatch.setenv(ENV_VAR, "auto")
    assert type(choose_progress("auto")) is WidgetProgress


def test_unknown_modes_are_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="'fancy' is not understood"):
        choose_progress("fancy")  # type: ignore[arg-type]
    monkeypatch.setenv(ENV_VAR, "loud")
    with pytest.raises(ConfigurationError, match="CASSNB_PROGRESS='loud'"):
        choose_progress("auto")


# ------------------------------------------------------------------------------------------ static / null
def test_static_prints_one_deterministic_line(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        reporter = StaticProgress()
        reporter.start("SELECT * FROM t")
        for pages in (1, 2, 3):
            reporter.update(1000 * pages - (500 if pages == 3 else 0), pages)
        reporter.finish()
        reporter.finish()  # a second end does not print again
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] == "fetched 2,500 rows in 3 pages\n"
    assert not TIMING.search(outputs[0])


def test_static_failure_and_singulars(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = StaticProgress()
    reporter.start("q")
    reporter.update(1, 1)
    reporter.fail("stopped")
    reporter.finish()
    assert capsys.readouterr().out == "fetched 1 row in 1 page (stopped)\n"


def test_null_prints_nothing_but_counts(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = NullProgress()
    reporter.start("q")
    reporter.update(10, 2)
    reporter.finish()
    reporter.fail("x")
    assert capsys.readouterr() == ("", "")
    assert (reporter.rows, reporter.pages, reporter.stop_requested) == (10, 2, False)


# ------------------------------------------------------------------------------------------ text
def test_text_on_a_terminal_rewrites_one_line() -> None:
    out = FakeTTY()
    reporter = TextProgress(out, interval=0.0)
    reporter.start("q")
    reporter.update(5000, 1)
    reporter.update(10000, 2)
    reporter.finish()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("· done\n")
    assert text.count("\r") == 3
    assert "10,000 rows · 2 pages" in text and "rows/s" in text


def test_text_is_rate_limited() -> None:
    out = FakeTTY()
    reporter = TextProgress(out, interval=3600.0)
    reporter.start("q")
    for pages in range(1, 50):
        reporter.update(pages * 100, pages)
    reporter.fail("interrupted")
    lines = out.getvalue().split("\r")[1:]
    assert len(lines) == 2, "one live update in the interval, then the final line"
    assert "4,900 rows · 49 pages" in lines[-1] and "· interrupted — the rows so far are kept" in lines[-1]
    assert lines[-1].endswith("`await cassnb.more(frame)` on the returned frame continues\n")


def test_text_off_a_terminal_writes_only_the_final_line() -> None:
    out = io.StringIO()
    reporter = TextProgress(out, interval=0.0)
    reporter.start("q")
    reporter.update(5, 1)
    reporter.finish()
    assert "\r" not in out.getvalue() and out.getvalue().count("\n") == 1


# ------------------------------------------------------------------------------------------ widget
def _widget(**kwargs: Any) -> tuple[WidgetProgress, list[Any]]:
    shown: list[Any] = []
    return WidgetProgress(display=shown.append, interval=0.0, **kwargs), shown


def test_widget_is_info_while_running_and_success_when_done() -> None:
    reporter, shown = _widget()
    reporter.start("SELECT * FROM t")
    assert shown == [reporter.box]
    assert reporter.bar.bar_style == "info"
    assert list(reporter.box.children) == [reporter.bar, reporter.label, reporter.button]
    reporter.update(12345, 3)
    assert "12,345 rows · 3 pages" in reporter.label.value and "rows/s" in reporter.label.value
    reporter.finish()
    assert reporter.bar.bar_style == "success"
    assert "done" in reporter.label.value
    assert reporter.button not in reporter.box.children, "nothing left to stop"


def test_a_stop_is_a_warning_and_a_failure_danger() -> None:
    stopped, _ = _widget()
    stopped.start("q")
    stopped.update(10, 1)
    stopped.fail("stopped")
    stopped.finish()  # the first end wins
    assert stopped.bar.bar_style == "warning" and "stopped" in stopped.label.value
    failed, _ = _widget()
    failed.start("q")
    failed.fail("failed: ConnectionError")
    assert failed.bar.bar_style == "danger"


class Handle:
    """Stands for IPython's DisplayHandle: records what replaced the displayed object."""

    def __init__(self) -> None:
        self.updates: list[Any] = []

    def update(self, obj: Any) -> None:
        self.updates.append(obj)


def test_the_end_replaces_the_widget_in_place_by_a_static_summary() -> None:
    from cassnb.progress import FinalState

    handle = Handle()
    reporter = WidgetProgress(display=lambda box: handle, interval=0.0, hints={"stopped": "`%cql more big` continues"})
    reporter.start("q")
    reporter.update(195_000, 390)
    reporter.fail("stopped")
    (final,) = handle.updates
    assert isinstance(final, FinalState) and final.style == "warning"
    assert repr(final).startswith("195,000 rows · 390 pages · ") and repr(final).endswith(
        "· stopped — `%cql more big` continues"
    )
    assert "ef6c00" in final._repr_html_() and "`%cql more big` continues" in final._repr_html_()
    assert reporter.box.comm is None and reporter.button.comm is None, "the widgets were closed"


def test_without_a_stop_button_the_widget_says_to_interrupt() -> None:
    reporter, _ = _widget(stop_button=False)
    reporter.start("q")
    assert reporter.button not in reporter.box.children
    assert "interrupt the kernel to stop" in reporter.box.children[-1].value


def test_a_front_end_without_widgets_is_told_to_interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The widget is shown with a text/plain of its own: where widgets do not render, that is what is read."""
    import IPython.display

    shown: list[tuple[Any, dict[str, Any]]] = []
    handle = Handle()
    monkeypatch.setattr(IPython.display, "display", lambda *args, **kwargs: (shown.append((args, kwargs)), handle)[1])
    reporter = WidgetProgress(interval=0.0)
    reporter.start("q")
    ((bundle,), options) = shown[0]
    assert options == {"raw": True, "display_id": True}
    assert bundle["text/plain"] == "reading: interrupt the kernel to stop (the rows are kept)"
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == reporter.box.model_id
    reporter.finish()
    assert repr(handle.updates[-1]).endswith("· done")


def test_widget_escapes_its_label() -> None:
    reporter, _ = _widget()
    reporter.start("q")
    reporter.fail("failed: <script>")
    assert "<script>" not in reporter.label.value and "&lt;script&gt;" in reporter.label.value


def test_the_stop_button_requests_a_stop() -> None:
    shared = StopSignal()
    reporter, _ = _widget(stop=shared)
    reporter.start("q")
    assert not reporter.stop_requested
    reporter.button.click()
    assert reporter.stop_requested and shared.is_set()
    assert reporter.button.disabled


# ------------------------------------------------------------------------------------------ StopSignal
def test_stop_signal_is_set_from_another_thread() -> None:
    signal = StopSignal()
    thread = threading.Thread(target=signal.set)
    thread.start()
    thread.join()
    assert signal.is_set() and "set" in repr(signal)
    signal.clear()
    assert not signal.is_set()


# ------------------------------------------------------------------------------------------ stop_on_interrupt
@pytest.fixture
def previous_handler() -> Iterator[list[int]]:
    """Install a recording SIGINT handler (restored after the test) to stand for IPython's or asyncio's."""
    calls: list[int] = []
    original = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGINT, original)


def test_a_first_interrupt_sets_the_signal_and_a_second_one_goes_to_the_previous_handler(
    previous_handler: list[int],
) -> None:
    installed = signal.getsignal(signal.SIGINT)

    async def read() -> None:
        stop = StopSignal()
        with stop_on_interrupt(stop):
            assert signal.getsignal(signal.SIGINT) is not installed
            signal.raise_signal(signal.SIGINT)
            await asyncio.sleep(0)  # the loop sets the signal
            assert stop.is_set() and previous_handler == []
            signal.raise_signal(signal.SIGINT)
            assert previous_handler == [signal.SIGINT]

    asyncio.run(read())
    assert signal.getsignal(signal.SIGINT) is installed


def test_overlapping_blocks_share_one_handler_and_restore_the_original(previous_handler: list[int]) -> None:
    installed = signal.getsignal(signal.SIGINT)

    async def read(stop: StopSignal, started: asyncio.Event, release: asyncio.Event) -> None:
        with stop_on_interrupt(stop):
            started.set()
            await release.wait()

    async def main() -> None:
        stops, starts = [StopSignal(), StopSignal()], [asyncio.Event(), asyncio.Event()]
        releases = [asyncio.Event(), asyncio.Event()]
        tasks = [asyncio.create_task(read(*args)) for args in zip(stops, starts, releases, strict=True)]
        await asyncio.gather(*(s.wait() for s in starts))
        signal.raise_signal(signal.SIGINT)
        await asyncio.sleep(0)
        assert all(s.is_set() for s in stops), "one interrupt stops every read in progress"
        releases[0].set()  # the first block ends before the second
        await tasks[0]
        assert signal.getsignal(signal.SIGINT) is not installed
        releases[1].set()
        await tasks[1]

    asyncio.run(main())
    assert signal.getsignal(signal.SIGINT) is installed and previous_handler == []


def test_with_run_until_complete_the_second_interrupt_raises_keyboard_interrupt() -> None:
    """IPython's terminal runs awaited cells this way, with Python's default SIGINT handler."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    async def read() -> None:
        with stop_on_interrupt(StopSignal()):
            signal.raise_signal(signal.SIGINT)
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(read())
    finally:
        loop.close()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_under_asyncio_run_the_second_interrupt_is_handled_by_asyncio() -> None:
    """asyncio.run cancels the main task on SIGINT and then raises KeyboardInterrupt."""

    async def read() -> None:
        with stop_on_interrupt(StopSignal()):
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            await asyncio.sleep(10)

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(read())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_left_behind_by_someone_else_acts_like_the_default() -> None:
    """ipykernel saves the SIGINT handler when a cell starts and restores it when the cell ends; a read that
    ran in the background across that cell leaves our handler installed after its own block has ended."""
    try:
        signal.signal(signal.SIGINT, _stop._on_sigint)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)

        async def read() -> None:
            with stop_on_interrupt(StopSignal()):
                signal.raise_signal(signal.SIGINT)
                with pytest.raises(KeyboardInterrupt):  # not a RecursionError
                    signal.raise_signal(signal.SIGINT)

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(read())
        finally:
            loop.close()
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def test_outside_the_main_thread_nothing_is_installed() -> None:
    seen: list[Any] = []

    def worker() -> None:
        async def read() -> None:
            with stop_on_interrupt(StopSignal()):
                seen.append(signal.getsignal(signal.SIGINT))

        asyncio.run(read())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]
