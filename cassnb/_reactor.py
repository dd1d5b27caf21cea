"""The driver's connections, served on the asyncio event loop that uses them.

cassandra-driver's own reactor (libev) keeps every socket on a thread of its own, so each answer crosses from
that thread to the event loop: the loop sleeps, is woken through its self-pipe, and the GIL changes hands.
On a point read that crossing costs more than the driver's own work (``benchmarks/results``). Here the
event loop watches the sockets itself, and an answer is decoded and delivered where it is awaited.

* **Reads** happen on the loop (``add_reader``). A response is decoded in place. A page of rows for cassnb's
  own requests arrives unparsed (:mod:`cassnb._decode`) and is parsed on the loop in pieces
  (:mod:`cassnb._bridge`); another large response (:data:`BIG_BODY` bytes or more, from a request sent with
  the driver's API) is decoded on the reactor's worker thread, so that it does not hold the loop in one piece
  (the driver's decoder is C code that never yields the GIL).
* **Writes** go to the socket at once, from whichever thread sends; what the socket does not take waits
  for the loop's writer callback.
* **Timers** (request timeouts) are the driver's ``TimerManager``, serviced by the loop at the earliest
  deadline.
* **Standby.** A loop can stop serving: a notebook cell runs blocking code, the loop was closed, or code
  on the loop calls the driver's blocking API and would otherwise wait for itself. The loop leaves a tick
  every :data:`TICK` seconds; when the ticks stop for :data:`STALE` seconds, the worker thread serves the
  sockets and timers itself until the loop comes back. Nothing hangs, and heartbeats are answered.
* **Binding.** The reactor serves the loop of the first :meth:`AsyncCluster.connect`. When that loop is
  closed (``asyncio.run`` again, a test framework's loop per test), the next loop that awaits a request
  takes over.

TLS connections use the driver's own reactor: an ``ssl`` socket must not be read and written from two
threads at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import queue
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from cassandra.connection import Connection, ConnectionShutdown, Timer, TimerManager

from ._decode import PIECE_BYTES, leaves_unparsed

log = logging.getLogger("cassnb.reactor")

#: Response bodies of this size or more are decoded on the worker thread, not on the loop, unless cassnb's own
#: request leaves them unparsed (the same size: :data:`cassnb._decode.PIECE_BYTES`).
BIG_BODY = PIECE_BYTES
#: How often the loop shows that it is serving.
TICK = 0.1
#: The worker takes over when the loop has not ticked for this long.
STALE = 0.3

_get_running_loop = asyncio._get_running_loop  # the C accessor; None outside a running loop


class Reactor:
    """Serves the connections of one cluster: on its bound loop, or on the worker thread when that stalls."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.timers = TimerManager()
        self._serving = threading.Lock()  # held by whoever reads sockets and services timers right now
        self._lock = threading.Lock()  # the connection set and the binding
        self._connections: set[LoopConnection] = set()
        self._jobs: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at = float("inf")  # time.time() of the scheduled wake
        self._tick_at = 0.0  # time.monotonic() of the loop's last tick
        self._closed = False

    def connection_class(self) -> type[LoopConnection]:
        """A driver connection class bound to this reactor (the driver takes classes, not instances)."""
        return type("LoopConnection", (LoopConnection,), {"reactor": self})

    # ------------------------------------------------------------------ binding
    def on_loop(self) -> bool:
        """Whether the calling thread is running the bound loop."""
        loop = self.loop
        return loop is not None and _get_running_loop() is loop

    def use(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called on ``loop`` before it awaits a request: serve from it if the bound loop is gone."""
        if loop is self.loop:
            self._tick_at = time.monotonic()  # a loop that sends is running: the worker stands down
            return
        if self._closed:
            return
        with self._lock:
            old = self.loop
            if old is not None and not old.is_closed() and old.is_running():
                return  # another live loop serves; this one's answers reach it through the bridge
            self.loop = loop
            for connection in self._connections:
                connection.move_to(old, loop)
        self._wake, self._wake_at = None, float("inf")  # a wake scheduled on the old loop is gone with it
        self._tick_at = time.monotonic()
        self._schedule(0.0)

    # ------------------------------------------------------------------ connections
    def add(self, connection: LoopConnection) -> None:
        with self._lock:
            self._connections.add(connection)
            loop = self.loop
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="cassnb-reactor", daemon=True)
                self._worker.start()
        if loop is not None:
            self.call(loop, connection.watch, loop)

    def discard(self, connection: LoopConnection) -> asyncio.AbstractEventLoop | None:
        """Forget ``connection``; returns the loop its socket is registered with, if one is alive."""
        with self._lock:
            self._connections.discard(connection)
            loop = self.loop
        return loop if loop is not None and not loop.is_closed() else None

    def call(self, loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: Any) -> bool:
        """Run ``callback(*args)`` on ``loop``: now if this is its thread, else soon. False if it is closed."""
        if _get_running_loop() is loop:
            callback(*args)
            return True
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # closed
            return False
        return True

    def submit(self, job: Callable[[], object]) -> None:
        """Run ``job`` on the worker thread."""
        self._jobs.put(job)

    # ------------------------------------------------------------------ timers
    def add_timer(self, timer: Timer) -> None:
        self.timers.add_timer(timer)
        if timer.end < self._wake_at:
            loop = self.loop
            if loop is not None and _get_running_loop() is loop:
                self._schedule(timer.end - time.time())
            elif loop is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._schedule, timer.end - time.time())

    def _schedule(self, delay: float) -> None:
        """On the loop: wake in ``delay`` seconds (or at the next tick, if sooner)."""
        loop = self.loop
        if loop is None or self._closed or _get_running_loop() is not loop:
            return
        delay = min(max(delay, 0.0), TICK)
        at = time.time() + delay
        if self._wake is not None:
            if at >= self._wake_at - 0.001:
                return
            self._wake.cancel()
        self._wake_at = at
        self._wake = loop.call_later(delay, self._on_wake)

    def run_due_timers(self) -> None:
        """On the loop, before reading a socket: timers whose time has come run first, so a timeout that has
        passed wins over an answer read in the same turn of the loop (asyncio runs I/O callbacks before timers)."""
        if self._wake_at <= time.time():
            if self._wake is not None:
                self._wake.cancel()
            self._on_wake()

    def _on_wake(self) -> None:
        self._wake, self._wake_at = None, float("inf")
        self._tick_at = time.monotonic()
        with self._serving:
            following = self.timers.service_timeouts()
        self._schedule(TICK if following is None else following - time.time())

    # ------------------------------------------------------------------ the worker thread
    def _stale(self) -> bool:
        loop = self.loop
        return loop is None or loop.is_closed() or time.monotonic() - self._tick_at > STALE

    def _work(self) -> None:
        while not self._closed:
            try:
                job = self._jobs.get(timeout=TICK)
            except queue.Empty:
                job = None
            if job is not None:
                _run(job)
            elif self._connections and self._stale():
                self._standby()

    def _standby(self) -> None:
        """Serve sockets, timers and jobs from this thread while the loop does not."""
        log.debug("the event loop is not serving; the reactor's worker thread serves the connections")
        while not self._closed and self._stale():
            poller = select.poll()
            connections = {}
            for connection in list(self._connections):
                fd = connection.fd
                if fd >= 0:
                    connections[fd] = connection
                    poller.register(fd, select.POLLIN | (select.POLLOUT if connection.pending_output else 0))
            following = self.timers.next_timeout
            timeout = TICK if following is None else min(TICK, max(following - time.time(), 0.0))
            try:
                events = poller.poll(timeout * 1000)
            except OSError:  # a socket was closed meanwhile
                events = []
            with self._serving:
                if not self._stale():
                    break  # the loop is back, and reads what is there
                for fd, flags in events:
                    connection = connections[fd]
                    if flags & select.POLLOUT:
                        connection.flush()
                    if flags & ~select.POLLOUT:
                        connection.read()
                self.timers.service_timeouts()
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    _run(job)

    def close(self) -> None:
        """Stop the worker (the connections are closed by the driver's shutdown). Idempotent."""
        self._closed = True
        self._jobs.put(None)
        loop, wake = self.loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.cancel)
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(2 * TICK + 1.0)


def _run(job: Callable[[], object]) -> None:
    try:
        job()
    except Exception:  # a job is the driver's message processing, which handles its own errors
        log.exception("error while processing a response")


class LoopConnection(Connection):  # type: ignore[misc]
    """A driver connection served by a :class:`Reactor` (made per cluster by :meth:`Reactor.connection_class`)."""

    reactor: Reactor
    #: Bytes asked of the socket per read (the driver's 4 KiB took 105 reads, 3-5 ms of the loop, per page).
    in_buffer_size = 64 * 1024
    is_closed: bool  # (the driver's attributes, typed for mypy)
    is_defunct: bool

    @classmethod
    def create_timer(cls, timeout: float, callback: Callable[[], object]) -> Timer:
        timer = Timer(timeout, callback)
        cls.reactor.add_timer(timer)
        return timer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Connection.__init__(self, *args, **kwargs)
        self._out: collections.deque[bytes | memoryview] = collections.deque()
        self._out_lock = threading.Lock()
        self._writer_loop: asyncio.AbstractEventLoop | None = None
        self.fd = -1
        self._connect_socket()
        self._socket.setblocking(False)
        self.fd = self._socket.fileno()
        self.reactor.add(self)
        self._send_options_message()

    @property
    def pending_output(self) -> bool:
        return bool(self._out)

    # ------------------------------------------------------------------ on the loop
    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """On ``loop``: read this socket from it (and write to it, if output is waiting)."""
        if self.is_closed or self.fd < 0 or loop is not self.reactor.loop:  # (a request queued before a rebind)
            return
        loop.add_reader(self.fd, self._on_readable)
        with self._out_lock:
            if self._out:
                self._writer_loop = loop
                loop.add_writer(self.fd, self.flush)

    def move_to(self, old: asyncio.AbstractEventLoop | None, new: asyncio.AbstractEventLoop) -> None:
        """On ``new``'s thread, with ``old`` closed or not running: serve this socket from ``new``."""
        if self.fd >= 0 and old is not None and not old.is_closed():
            old.remove_reader(self.fd)
            old.remove_writer(self.fd)
        with self._out_lock:
            self._writer_loop = None
        self.watch(new)

    def _on_readable(self) -> None:
        self.reactor.run_due_timers()
        with self.reactor._serving:
            self.read()

    # ------------------------------------------------------------------ under Reactor._serving
    def read(self) -> None:
        """Read what the socket has and process the complete messages."""
        if self.is_closed:
            return
        size = self.in_buffer_size
        try:
            while True:
                data = self._socket.recv(size)
                if not data:
                    self.close()  # closed by the server
                    return
                self._iobuf.write(data)
                if len(data) < size:
                    break
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            self.defunct(exc)
            return
        if self._iobuf.tell():
            self.process_io_buffer()

    def process_msg(self, header: Any, body: bytes) -> Any:
        if len(body) >= BIG_BODY and self.reactor.on_loop() and not self._parsed_later(header.stream):
            self.reactor.submit(lambda: Connection.process_msg(self, header, body))
            return None
        return Connection.process_msg(self, header, body)

    def _parsed_later(self, stream: int) -> bool:
        """Whether this answer's rows are left unparsed (cassnb._decode), so that decoding it here is cheap."""
        request = self._requests.get(stream)
        return request is not None and leaves_unparsed(request[1])

    # ------------------------------------------------------------------ writes, from any thread
    def push(self, data: bytes) -> None:
        with self._out_lock:
            if not self._out:
                try:
                    sent = self._socket.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError as exc:
                    error: OSError | None = exc
                else:
                    error = None
                    if sent == len(data):
                        return
                if error is None:
                    self._out.append(memoryview(data)[sent:])
                    self._arm_writer()
                    return
            else:
                self._out.append(data)
                return
        self.defunct(error)

    def _arm_writer(self) -> None:
        """With ``_out_lock`` held and output waiting: have the loop (or the standby) write when it can."""
        loop = self.reactor.loop
        if loop is None or self._writer_loop is loop:
            return
        self._writer_loop = loop
        self.reactor.call(loop, self._add_writer, loop)

    def _add_writer(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.is_closed and self.fd >= 0:
            loop.add_writer(self.fd, self.flush)

    def flush(self) -> None:
        """Write what is waiting, as far as the socket takes it (the loop's writer callback, or the standby)."""
        error: OSError | None = None
        with self._out_lock:
            while self._out:
                chunk = self._out[0]
                try:
                    sent = self._socket.send(chunk)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as exc:
                    error = exc
                    break
                if sent < len(chunk):
                    self._out[0] = memoryview(chunk)[sent:]
                    return
                self._out.popleft()
            loop, self._writer_loop = self._writer_loop, None
        if loop is not None and not loop.is_closed():
            self.reactor.call(loop, self._remove_writer, loop)
        if error is not None:
            self.defunct(error)

    def _remove_writer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.fd >= 0 and not self._out:
            loop.remove_writer(self.fd)

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        with self.lock:
            if self.is_closed:
                return
            self.is_closed = True
        log.debug("closing connection (%s) to %s", id(self), self.endpoint)
        loop = self.reactor.discard(self)
        if loop is None or not loop.is_running() or not self.reactor.call(loop, self._detach, loop):
            self._detach(loop)
        if not self.is_defunct:
            self.error_all_requests(ConnectionShutdown(f"Connection to {self.endpoint} was closed"))
            self.connected_event.set()  # nobody waits for a connection that will never open

    def _detach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Unregister the socket from ``loop`` (on its thread, or while it does not run), then close it."""
        fd, self.fd = self.fd, -1
        if fd >= 0 and loop is not None and not loop.is_closed():
            with contextlib.suppress(OSError, ValueError, KeyError):
                loop.remove_reader(fd)
                loop.remove_writer(fd)
        with contextlib.suppress(OSError):
            self._socket.close()


def usable(socket_options: dict[str, Any]) -> bool:
    """Whether connections with these driver options can be served by the loop (not for TLS)."""
    return not (socket_options.get("ssl_context") or socket_options.get("ssl_options"))


__all__ = ["BIG_BODY", "STALE", "TICK", "LoopConnection", "Reactor", "usable"]
