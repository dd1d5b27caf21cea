"""Streaming in the magics, against the real server: ``%%cql --stream`` (preview, final table), streaming past
``CqlMagic.stream_threshold``, an interrupt that keeps the rows, ``%cql more``, and the cell-end clean-up of
streams left open (in an InteractiveShell and in a real kernel).

Interrupts are ``_thread.interrupt_main()`` fired from a watcher thread once the session has streamed a page;
pages are slowed down on the driver side (``ResponseFuture.start_fetching_next_page``) so the read is still
going when the interrupt lands, whatever the machine's speed.
"""

from __future__ import annotations

import _thread
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pandas.testing as pdt
import pytest
from cassandra.cluster import ResponseFuture
from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from nbclient import NotebookClient

from cassnb import AsyncSession, StreamConfig
from cassnb.frames import frame_info, more, query_df
from cassnb.progress import StopSignal
from cassnb.streaming import close_streams_opened_after, stream_mark
from tests.conftest import ServerAddress
from tests.integration.test_frames_stream_kernel import Kernel
from tests.integration.test_magics import Shown, private_shell, run_cell, show, the_magic

ROWS = 30_000
PER_PARTITION = 1_000
TRAITS = ("displaylimit", "fetch_size", "autolimit", "progress", "stream_threshold")
STOPPED = re.compile(r"fetched ([\d,]+) rows in ([\d,]+) pages \(stopped\)")
WARNING = "cassnb: closed a stream left open by this cell: "
REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def rows_table(driver_session: Any, keyspace: str) -> str:
    """``stream_rows (p, k, v)``: 30,000 rows in 30 partitions, in single-partition unlogged batches."""
    name = f"{keyspace}.stream_rows"
    driver_session.execute(f"CREATE TABLE {name} (p int, k int, v text, PRIMARY KEY (p, k))")
    insert = driver_session.prepare(f"INSERT INTO {name} (p, k, v) VALUES (?, ?, ?)")

    def batches() -> Iterator[tuple[BatchStatement, tuple[()]]]:
        for start in range(0, ROWS, 100):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for k in range(start, start + 100):
                batch.add(insert, (k // PER_PARTITION, k, f"value {k}"))
            yield batch, ()

    execute_concurrent(
        driver_session, batches(), concurrency=16, raise_on_first_error=True, results_generator=False
    )
    return name


@pytest.fixture(scope="module")
def loaded(
    cassandra_address: ServerAddress, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InteractiveShell]:
    with private_shell(tmp_path_factory.mktemp("magics_streaming")) as ip:
        yield ip


@pytest.fixture
def ip(loaded: InteractiveShell, cassandra_address: ServerAddress) -> Iterator[InteractiveShell]:
    """The shell on the "default" connection, with static progress and the other options at their defaults."""
    magic = the_magic(loaded)
    if "default" not in magic.connections:
        with capture_output():
            loaded.run_line_magic("cql", f"connect {cassandra_address.host} --port {cassandra_address.port}")
    magic.connections.current = "default"
    magic.progress = "static"
    yield loaded
    for name in TRAITS:
        setattr(magic, name, magic.trait_defaults(name))
    magic.results.clear()


def session_of(ip: InteractiveShell) -> AsyncSession:
    return the_magic(ip).connections.get().session


def read_all(ip: InteractiveShell, query: str, **options: Any) -> pd.DataFrame:
    """The reference: the same query read by ``cassnb.query_df`` directly."""
    return the_magic(ip).runner.run(query_df(session_of(ip), query, progress=False, **options))


def keys(frame: pd.DataFrame) -> list[tuple[int, int]]:
    return list(zip(frame["p"].tolist(), frame["k"].tolist(), strict=True))


def footer(shown: Shown) -> str:
    return str(shown.texts[-1].splitlines()[-1])


@pytest.fixture
def slow_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    """``slow_pages(seconds)``: from now on the driver requests each next page ``seconds`` late."""
    prompt = ResponseFuture.start_fetching_next_page
    timers: list[threading.Timer] = []

    def slow(delay: float) -> None:
        def fetch_later(response: ResponseFuture) -> None:
            timer = threading.Timer(delay, prompt, args=(response,))
            timers.append(timer)
            timer.start()

        monkeypatch.setattr(ResponseFuture, "start_fetching_next_page", fetch_later)

    yield slow
    monkeypatch.undo()
    for timer in timers:  # no late page may land in a later test
        timer.join()


class StopRequests:
    """When the magic asks a read to stop (on the first interrupt): an event, and the pages read by then."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.pages_at_stop = -1


@pytest.fixture
def stop_requests(monkeypatch: pytest.MonkeyPatch, ip: InteractiveShell) -> StopRequests:
    requests = StopRequests()
    request_stop = StopSignal.set
    session = session_of(ip)
    start = session.metrics().pages_streamed

    def record(signal: StopSignal) -> None:
        requests.pages_at_stop = session.metrics().pages_streamed - start
        request_stop(signal)
        requests.event.set()

    monkeypatch.setattr(StopSignal, "set", record)
    return requests


class InterruptAfterPages:
    """Interrupts the main thread once the session has streamed ``pages`` more pages; with ``stopping``,
    interrupts it again once that event says the magic has asked the read to stop.

    No interrupt is sent if the read never gets going, so none can hit pytest itself.
    """

    def __init__(
        self, session: AsyncSession, pages: int = 1, *, stopping: threading.Event | None = None
    ) -> None:
        self._session, self._pages, self._stopping = session, pages, stopping
        self._done = threading.Event()
        self.fired = 0
        self.pages_at_interrupt = -1
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _streamed(self) -> int:
        return self._session.metrics().pages_streamed

    def _watch(self) -> None:
        start, deadline = self._streamed(), time.monotonic() + 20
        while not self._done.wait(0.002):
            if time.monotonic() > deadline:
                return
            if self._streamed() - start >= self._pages:
                break
        else:
            return
        self.pages_at_interrupt = self._streamed() - start
        self.fired += 1
        _thread.interrupt_main()
        if self._stopping is not None and self._stopping.wait(10) and not self._done.is_set():
            self.fired += 1
            _thread.interrupt_main()

    def __enter__(self) -> InterruptAfterPages:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()


# ------------------------------------------------------------------------------------------------ --stream


def test_stream_shows_one_final_table_and_out_equals_query_df(ip: InteractiveShell, rows_table: str) -> None:
    query = f"SELECT * FROM {rows_table}"
    shown = show(ip, "--stream --out streamed", query)
    assert len(shown.outputs) == 1, "static progress: no preview, only the final table"
    assert footer(shown) == "first 10 of 30,000 rows shown"
    assert re.fullmatch(r"fetched 30,000 rows in \d+ pages\n", shown.stdout), shown.stdout
    streamed = ip.user_ns["streamed"]
    info = frame_info(streamed)
    assert info.complete and info.rows == ROWS and info.query == query
    pdt.assert_frame_equal(streamed, read_all(ip, query))


def test_the_live_preview_updates_in_place_and_ends_as_the_result_table(
    ip: InteractiveShell, rows_table: str, slow_pages: Callable[[float], None]
) -> None:
    """``progress = widget``: a progress bar, and under it the preview, one display updated in place (first
    rows + counts so far). At the end the bar becomes its static summary and the preview becomes the result
    table, each in its own slot: nothing else is displayed."""
    the_magic(ip).progress = "widget"
    slow_pages(0.02)
    with capture_output() as captured:
        ip.run_cell_magic("cql", "--stream --fetch-size 1000", f"SELECT * FROM {rows_table}")
    outputs = captured.outputs
    assert all("display_id" in o.transient for o in outputs), "every output is a slot updated in place"
    slots: dict[str, list[Any]] = {}
    for output in outputs:
        slots.setdefault(output.transient["display_id"], []).append(output)
    assert len(slots) == 2
    bar, preview = sorted(slots.values(), key=lambda shown: "text/html" in shown[0].data)
    assert "application/vnd.jupyter.widget-view+json" in bar[0].data
    assert re.fullmatch(r"30,000 rows · \d+ pages · [\d,]+ rows/s · \d:\d\d:\d\d · done", bar[-1].data["text/plain"])
    assert "cassnb-success" in bar[-1].data["text/html"]
    first, *updates = preview
    assert not first.update and updates and all(o.update for o in updates)
    assert "<table" in first.data["text/html"]
    texts = [o.data["text/plain"] for o in preview]
    assert all(re.search(r"first 10 rows · [\d,]+ rows · [\d,]+ pages so far$", text) for text in texts[:-1])
    assert texts[-1].endswith("first 10 of 30,000 rows shown")


def test_off_shows_the_table_and_nothing_else(ip: InteractiveShell, rows_table: str) -> None:
    the_magic(ip).progress = "off"
    shown = show(ip, "--stream --fetch-size 1000", f"SELECT * FROM {rows_table}")
    assert (shown.stdout, shown.stderr, len(shown.outputs)) == ("", "", 1)
    assert footer(shown) == "first 10 of 30,000 rows shown"


def test_stream_keeps_per_run_options_and_runs_other_statements_normally(
    ip: InteractiveShell, rows_table: str
) -> None:
    keyspace, table = rows_table.split(".")
    ip.user_ns["wanted"] = 7
    shown = show(
        ip,
        f"--stream --keyspace {keyspace} --consistency ONE --limit 1500 --fetch-size 1000 --out opts",
        f"UPDATE {table} SET v = 'seven' WHERE p = 0 AND k = :wanted;\n"
        f"SELECT * FROM {table} WHERE p IN (0, 1)",
    )
    assert (
        shown.texts[0].endswith("— OK")
        and footer(shown) == "first 10 rows shown (1,500 fetched) — more on the server"
    )
    assert ip.user_ns["opts"]["v"].tolist()[7] == "seven"
    show(ip, "more")  # the table name is not qualified: the resume keeps the statement's keyspace
    assert len(ip.user_ns["opts"]) == 2000 and frame_info(ip.user_ns["opts"]).complete
    with pytest.raises(UsageError, match="--stream and --tracing do not go together"):
        show(ip, "--stream --tracing", f"SELECT * FROM {rows_table}")


# ------------------------------------------------------------------------------------------ stream threshold


def test_a_read_past_the_threshold_continues_as_a_stream(ip: InteractiveShell, rows_table: str) -> None:
    query = f"SELECT * FROM {rows_table}"
    the_magic(ip).stream_threshold = 5000
    shown = show(ip, "--fetch-size 1000 --out auto", query)
    auto = ip.user_ns["auto"]
    info = frame_info(auto)
    assert info.complete and info.rows == ROWS and footer(shown) == "first 10 of 30,000 rows shown"
    assert shown.stdout.startswith("fetched 30,000 rows in ")
    pdt.assert_frame_equal(auto, read_all(ip, query))
    small = ip.run_line_magic("cql", f"--fetch-size 1000 SELECT * FROM {rows_table} WHERE p IN (0, 1, 2)")
    assert len(small) == 3000 and frame_info(small).complete, "below the threshold: the same read, no preview"
    kept = ip.run_line_magic("cql", f"--consistency ONE --fetch-size 1000 {query}")
    assert len(kept) == ROWS and frame_info(kept).complete, "a statement's options are kept across its pages"


def test_a_switched_read_resumes_with_its_bound_values(ip: InteractiveShell, rows_table: str) -> None:
    """The rows read before the switch and the stream after it make one frame that ``%cql more`` and
    ``await cassnb.more(df)`` continue, with the statement's ``:name`` values bound again."""
    the_magic(ip).stream_threshold = 5000
    ip.user_ns["low"] = -(2**63)
    query = f"SELECT * FROM {rows_table} WHERE token(p) >= :low"
    shown = show(ip, "--limit 12000 --fetch-size 1000 --out switched", query)
    assert footer(shown) == "first 10 rows shown (12,000 fetched) — more on the server"
    switched = ip.user_ns["switched"]
    assert frame_info(switched).rows == 12000 and not frame_info(switched).complete
    show(ip, "more --limit 3000")
    assert len(ip.user_ns["switched"]) == 15000
    rest = the_magic(ip).runner.run(more(ip.user_ns["switched"], progress=False))
    assert frame_info(rest).complete
    pdt.assert_frame_equal(rest, read_all(ip, f"SELECT * FROM {rows_table}"))


# ------------------------------------------------------------------------------------------ interrupts, more


def test_an_interrupt_keeps_the_rows_and_more_completes_them(
    ip: InteractiveShell,
    rows_table: str,
    slow_pages: Callable[[float], None],
    stop_requests: StopRequests,
) -> None:
    session = session_of(ip)
    slow_pages(0.05)
    with InterruptAfterPages(session) as interrupt:
        shown = show(ip, "--stream --fetch-size 1000 --out df", f"SELECT * FROM {rows_table}")
    assert interrupt.fired == 1
    partial = ip.user_ns["df"]
    info = frame_info(partial)
    assert not info.complete and 0 < len(partial) < ROWS and len(partial) % 1000 == 0
    assert stop_requests.event.is_set() and stop_requests.pages_at_stop >= interrupt.pages_at_interrupt
    assert info.pages <= stop_requests.pages_at_stop + 1, "the read went on past the page in flight"
    [(rows, pages)] = STOPPED.findall(shown.stdout)
    assert int(rows.replace(",", "")) == len(partial) and int(pages) == info.pages
    assert footer(shown) == f"first 10 rows shown ({len(partial):,} fetched) — more on the server"
    assert shown.stdout.rstrip().endswith(f"fetched {len(partial):,} rows in {info.pages} pages (stopped)")

    before = session.metrics().pages_streamed
    resumed = show(ip, "more")
    full = ip.user_ns["df"]
    assert resumed.value is None and footer(resumed) == "first 10 of 30,000 rows shown"
    assert frame_info(full).complete and len(full) == ROWS
    assert sorted(keys(full)) == [(k // PER_PARTITION, k) for k in range(ROWS)], "every row exactly once"
    assert keys(full)[: len(partial)] == keys(partial)
    new_pages = session.metrics().pages_streamed - before
    assert new_pages <= (ROWS - len(partial)) // 1000 + 1, "earlier pages were read again"
    assert show(ip, "more").stdout == "nothing more to fetch: the result is complete (30,000 rows)\n"


def test_a_second_interrupt_cancels_the_read_and_re_raises(
    ip: InteractiveShell,
    rows_table: str,
    slow_pages: Callable[[float], None],
    stop_requests: StopRequests,
) -> None:
    session = session_of(ip)
    slow_pages(2.0)  # the page in flight when the first interrupt comes takes long
    mark = stream_mark()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), capture_output():
        with InterruptAfterPages(session, stopping=stop_requests.event) as interrupt:
            ip.run_cell_magic(
                "cql", "--stream --fetch-size 1000 --out never_set", f"SELECT * FROM {rows_table}"
            )
    assert interrupt.fired == 2 and time.monotonic() - started < 2.0, "it did not wait for the slow page"
    assert "never_set" not in ip.user_ns
    assert close_streams_opened_after(mark) == [], "the cancelled read closed its stream"
    assert ip.run_line_magic("cql", f"SELECT count(*) AS n FROM {rows_table} WHERE p = 3")["n"].tolist() == [
        1000
    ]


def test_more_with_limits_on_a_variable_and_when_nothing_is_left(
    ip: InteractiveShell, rows_table: str
) -> None:
    limited = show(ip, "--stream --limit 2500 --fetch-size 1000 --out lim", f"SELECT * FROM {rows_table}")
    assert footer(limited) == "first 10 rows shown (2,500 fetched) — more on the server"
    assert STOPPED.search(limited.stdout) is None, "a limit is not a stop"
    show(ip, "more --limit 500")
    assert len(ip.user_ns["lim"]) == 3000 and not frame_info(ip.user_ns["lim"]).complete
    show(ip, "more")
    assert len(ip.user_ns["lim"]) == ROWS and len(set(keys(ip.user_ns["lim"]))) == ROWS

    ip.user_ns["part"] = read_all(ip, f"SELECT * FROM {rows_table}", fetch_size=1000, max_rows=2500)
    show(ip, "more part --limit 1000")
    assert len(ip.user_ns["part"]) == 3500
    assert show(ip, "more part").texts[-1].endswith("first 10 of 30,000 rows shown")
    assert len(set(keys(ip.user_ns["part"]))) == ROWS

    one = show(ip, "--stream --out one", f"SELECT * FROM {rows_table} WHERE p = 1")
    assert footer(one) == "first 10 of 1,000 rows shown"
    nothing = "nothing more to fetch: the result is complete (1,000 rows)\n"
    assert show(ip, "more").stdout == nothing and show(ip, "more one").stdout == nothing

    ip.user_ns["plain"] = pd.DataFrame({"a": [1]})
    with pytest.raises(UsageError, match="'plain' is not a DataFrame that can be continued"):
        show(ip, "more plain")
    with pytest.raises(UsageError, match="no variable named 'missing'"):
        show(ip, "more missing")
    the_magic(ip).results.clear()
    with pytest.raises(UsageError, match="no streamed result on default to continue"):
        show(ip, "more")


def test_more_without_a_variable_returns_the_frame(ip: InteractiveShell, rows_table: str) -> None:
    show(ip, "--stream --limit 100 --fetch-size 50", f"SELECT * FROM {rows_table} WHERE p = 2")
    returned = show(ip, "more")
    assert isinstance(returned.value, pd.DataFrame) and len(returned.value) == 1000
    assert frame_info(returned.value).complete


def test_the_help_documents_streaming_more_cleanup_and_interrupts(ip: InteractiveShell) -> None:
    shown = run_cell(ip, "%%cql?")
    text = " ".join((shown.stdout + "".join(shown.texts)).split())
    for needle in ("--stream", "stream_threshold", "%cql more [VAR] [--limit N]", "post_run_cell",
                   "closed a stream left open", "second interrupt", "complete\"] == False"):  # fmt: skip
        assert needle in text, needle


# ------------------------------------------------------------------------------------------ cell-end clean-up


def test_a_cell_that_leaves_a_runner_stream_open_gets_it_closed(
    ip: InteractiveShell, rows_table: str
) -> None:
    async def open_one() -> Any:
        stream = await session_of(ip).execute_stream(
            f"SELECT * FROM {rows_table}", stream_config=StreamConfig(fetch_size=100)
        )
        await anext(stream)
        return stream

    async def read_one_and_close() -> int:
        async with session_of(ip).execute_stream(f"SELECT * FROM {rows_table}") as stream:
            await anext(stream)
        return 1

    ip.user_ns.update(runner=the_magic(ip).runner, open_one=open_one, read_one_and_close=read_one_and_close)
    left_open = run_cell(ip, "s = runner.run(open_one())")
    assert left_open.stderr == f"{WARNING}SELECT * FROM {rows_table} (1 page, 100 rows fetched)\n"
    assert ip.user_ns["s"].is_closed is True

    assert run_cell(ip, "n = runner.run(read_one_and_close())").stderr == "", "a closed stream: no warning"
    failed = run_cell(ip, "s2 = runner.run(open_one())\n1 / 0")
    assert isinstance(failed.value.error_in_exec, ZeroDivisionError) and WARNING in failed.stderr
    interrupted = run_cell(ip, "s3 = runner.run(open_one())\nraise KeyboardInterrupt")
    assert isinstance(interrupted.value.error_in_exec, KeyboardInterrupt) and WARNING in interrupted.stderr
    assert ip.user_ns["s2"].is_closed and ip.user_ns["s3"].is_closed
    assert run_cell(ip, "").stderr == "" and run_cell(ip, "   ").stderr == ""


def test_an_await_cell_in_a_real_kernel_gets_its_stream_closed(
    cassandra_address: ServerAddress, rows_table: str, tmp_path: Path
) -> None:
    cells = {
        "load": "%load_ext cassnb",
        "connect": "import os, cassnb\nsession = await cassnb.connect(os.environ['CASSNB_HOSTS'])",
        "leave-open": (
            f"s = await session.execute_stream('SELECT * FROM {rows_table}', "
            "stream_config=cassnb.StreamConfig(fetch_size=100))\n"
            "first = await anext(s)"
        ),
        "check": "print(s.is_closed is True)",
        "magic-stream": f"%%cql --stream --fetch-size 5000 --out kernel_df\nSELECT * FROM {rows_table}",
        "magic-check": "print(len(kernel_df), kernel_df.attrs['cassnb']['complete'])",
        "close": "%cql close\nawait session.close()",
    }
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(source, metadata={"tags": [tag]}) for tag, source in cells.items()
    ]
    notebook.cells.insert(2, nbformat.v4.new_code_cell("%cql connect", metadata={"tags": ["magic-connect"]}))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CASSNB_HOSTS", f"{cassandra_address.host}:{cassandra_address.port}")
        env.setenv("CASSNB_CONNECTIONS_FILE", str(tmp_path / "connections.ini"))
        env.setenv("CASSNB_PROGRESS", "static")
        env.setenv("PYTHONPATH", str(REPO))
        for variable in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
            env.setenv(variable, str(tmp_path / variable.lower()))
        NotebookClient(
            notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    outputs = {cell.metadata["tags"][0]: cell.outputs for cell in notebook.cells}

    def streamed(tag: str, name: str) -> str:
        return "".join(o["text"] for o in outputs[tag] if o["output_type"] == "stream" and o["name"] == name)

    assert (
        streamed("leave-open", "stderr")
        == f"{WARNING}SELECT * FROM {rows_table} (1 page, 100 rows fetched)\n"
    )
    assert streamed("check", "stdout") == "True\n"
    assert streamed("magic-stream", "stdout").startswith("fetched 30,000 rows in ")
    assert streamed("magic-stream", "stderr") == ""
    [table] = [o for o in outputs["magic-stream"] if o["output_type"] == "display_data"]
    assert table["data"]["text/plain"].endswith("first 10 of 30,000 rows shown")
    assert streamed("magic-check", "stdout") == "30000 True\n"
    assert not [o for cell in notebook.cells for o in cell.outputs if o["output_type"] == "error"]


def test_a_kernel_interrupt_during_a_streamed_cell_keeps_the_rows(
    cassandra_address: ServerAddress, rows_table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT to a real kernel while ``%%cql --stream`` waits on its pages (progress "auto": the live
    preview is on), then ``%cql more`` in the next cell."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("CASSNB_PROGRESS", raising=False)
    monkeypatch.setenv("CASSNB_CONNECTIONS_FILE", str(tmp_path / "connections.ini"))
    kernel = Kernel()
    try:
        ready = kernel.run(
            f"%load_ext cassnb\n%cql connect {cassandra_address.host} --port {cassandra_address.port}\n"
            "import threading\n"
            "from cassandra.cluster import ResponseFuture\n"
            "prompt_page = ResponseFuture.start_fetching_next_page\n"
            "def slow_page(response):  # each next page is requested 0.1 s late\n"
            "    threading.Timer(0.1, prompt_page, args=(response,)).start()\n"
            "ResponseFuture.start_fetching_next_page = slow_page"
        )
        assert ready["error"] is None and ready["text"].startswith("connected default"), ready
        msg_id = kernel.submit(f"%%cql --stream --fetch-size 1000 --out df\nSELECT * FROM {rows_table}")
        preview_shown(kernel, msg_id)
        kernel.manager.interrupt_kernel()
        stopped = kernel.wait(msg_id)
        assert stopped["error"] is None, stopped
        summaries = [text for text in stopped["displays"] if "· stopped — " in text]
        assert summaries and summaries[-1].endswith("the rows so far are in df (incomplete): `%cql more df` continues")
        rows = summaries[-1].split(" rows · ")[0]
        partial = kernel.run("print(len(df), df.attrs['cassnb']['complete'])")
        assert partial["text"] == f"{rows.replace(',', '')} False\n"
        assert 0 < int(rows.replace(",", "")) < ROWS
        resumed = kernel.run("%cql more\nprint(len(df), df.attrs['cassnb']['complete'], df['k'].is_unique)")
        assert resumed["error"] is None and resumed["text"] == f"{ROWS} True True\n", resumed
    finally:
        kernel.run("ResponseFuture.start_fetching_next_page = prompt_page\n%cql close")
        kernel.close()


def preview_shown(kernel: Kernel, msg_id: str, timeout: float = 30.0) -> None:
    """Wait until the cell shows its live preview (a display with a display id): the stream is under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = kernel.client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        content = message["content"]
        if message["parent_header"].get("msg_id") == msg_id and message["msg_type"] == "display_data":
            if "display_id" in content.get("transient", {}):
                return
    raise AssertionError("the streamed cell never showed its preview")
