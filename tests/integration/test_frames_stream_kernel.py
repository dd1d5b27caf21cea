"""``query_df`` awaited in a real Jupyter kernel: the Stop button, one interrupt and two interrupts.

A kernel is driven over jupyter_client as a notebook frontend would: cells are sent for execution, the Stop
button is clicked by sending the widget message a browser sends, and interrupts are SIGINT to the kernel.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType
from jupyter_client.manager import start_new_kernel

from tests.conftest import ServerAddress

ROWS = 20_000
SLOW_READ = "df = await query_df(session, 'SELECT * FROM kernel_rows', fetch_size=10{progress})"
STOPPED = "· stopped — the rows so far are kept: `await cassnb.more(frame)` on the returned frame continues"


@pytest.fixture(scope="module")
def kernel_rows(driver_session: Any, keyspace: str) -> str:
    driver_session.execute(f"CREATE TABLE {keyspace}.kernel_rows (p int, k int, v text, PRIMARY KEY (p, k))")
    insert = driver_session.prepare(f"INSERT INTO {keyspace}.kernel_rows (p, k, v) VALUES (?, ?, ?)")

    def batches() -> Iterator[tuple[BatchStatement, tuple[()]]]:
        for start in range(0, ROWS, 250):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for k in range(start, start + 250):
                batch.add(insert, (k // 1000, k, f"value {k}"))
            yield batch, ()

    execute_concurrent(
        driver_session, batches(), concurrency=16, raise_on_first_error=True, results_generator=False
    )
    return "kernel_rows"


class Kernel:
    """A minimal notebook frontend: run cells, watch their output, click buttons, interrupt."""

    def __init__(self) -> None:
        self.manager, self.client = start_new_kernel(kernel_name="python3")

    def submit(self, code: str) -> str:
        msg_id: str = self.client.execute(code)
        return msg_id

    def wait(self, msg_id: str, *, timeout: float = 60.0, until: Any = None) -> dict[str, Any]:
        """Collect a cell's output until it is idle, or until ``until(output so far)`` is true."""
        result: dict[str, Any] = {"text": "", "error": None, "buttons": [], "displays": []}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.client.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                result["text"] += content["text"]
            elif kind == "error":
                result["error"] = content["ename"]
            elif kind in ("display_data", "update_display_data") and "text/plain" in content["data"]:
                result["displays"].append(content["data"]["text/plain"])
            elif kind == "comm_open" and content["data"].get("state", {}).get("_model_name") == "ButtonModel":
                result["buttons"].append(content["comm_id"])
            if until is not None and until(result):
                return result
            if kind == "status" and content["execution_state"] == "idle":
                return result
        raise AssertionError(f"the cell did not finish in {timeout} s; output so far: {result}")

    def run(self, code: str) -> dict[str, Any]:
        return self.wait(self.submit(code))

    def click(self, comm_id: str) -> None:
        data = {"method": "custom", "content": {"event": "click"}}
        self.client.shell_channel.send(
            self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        )

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(cassandra_address: ServerAddress, keyspace: str, kernel_rows: str) -> Iterator[Kernel]:
    kernel = Kernel()
    setup = kernel.run(
        "import os, signal, cassnb\n"
        "from cassnb.frames import query_df, more\n"
        "os.environ.pop('CASSNB_PROGRESS', None)\n"
        f"session = await cassnb.connect('{cassandra_address.host}:{cassandra_address.port}', "
        f"keyspace='{keyspace}')\n"
        "print('ready')"
    )
    assert setup["text"] == "ready\n", setup
    yield kernel
    kernel.run("await session.close()")
    kernel.close()


def check_resumes(kernel: Kernel) -> None:
    done = kernel.run(
        "full = await more(df, progress=False)\n"
        "print(len(full), full['k'].is_unique, full.attrs['cassnb']['complete'], len(df) < len(full))"
    )
    assert done["text"] == f"{ROWS} True True True\n", done


def test_the_stop_button_stops_a_cell_that_awaits_query_df(kernel: Kernel) -> None:
    msg_id = kernel.submit(SLOW_READ.format(progress=""))  # progress="auto": a widget, as in a notebook
    shown = kernel.wait(msg_id, until=lambda output: output["buttons"])
    kernel.click(shown["buttons"][0])
    stopped = kernel.wait(msg_id)
    assert stopped["error"] is None and stopped["text"] == "", "nothing printed: the display says it"
    assert stopped["displays"] and stopped["displays"][-1].endswith(STOPPED), stopped
    check_resumes(kernel)


def test_one_interrupt_returns_the_partial_frame(kernel: Kernel) -> None:
    msg_id = kernel.submit(SLOW_READ.format(progress=""))
    kernel.wait(msg_id, until=lambda output: output["buttons"])  # the read has started
    kernel.manager.interrupt_kernel()
    stopped = kernel.wait(msg_id)
    assert stopped["error"] is None and stopped["displays"] and STOPPED in stopped["displays"][-1], stopped
    check_resumes(kernel)


def test_a_second_interrupt_cancels_a_read_stuck_on_a_page(kernel: Kernel) -> None:
    """The first interrupt asks for a stop after the page in flight; when that page is slow in coming, a
    second interrupt gets the kernel's own behaviour: the cell is cancelled."""
    kernel.run(
        "import threading\n"
        "from cassandra.cluster import ResponseFuture\n"
        "prompt_page = ResponseFuture.start_fetching_next_page\n"
        "def slow_page(response):  # every next page takes 3 s to be requested\n"
        "    threading.Timer(3.0, prompt_page, args=(response,)).start()\n"
        "ResponseFuture.start_fetching_next_page = slow_page\n"
        "df = None"
    )
    try:
        msg_id = kernel.submit(SLOW_READ.format(progress=""))
        kernel.wait(msg_id, until=lambda output: output["buttons"])
        time.sleep(0.5)  # now waiting for page 2
        kernel.manager.interrupt_kernel()
        time.sleep(0.5)
        kernel.manager.interrupt_kernel()
        cancelled = kernel.wait(msg_id)
    finally:
        kernel.run("ResponseFuture.start_fetching_next_page = prompt_page")
    assert cancelled["error"] == "CancelledError", cancelled
    after = kernel.run("print(df is None, signal.getsignal(signal.SIGINT) is signal.default_int_handler)")
    assert after["text"] == "True True\n", "no frame, and the kernel's own SIGINT handling is back"
