"""``AsyncCluster``: the entry point — configuration, connecting sessions, shutting down."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from cassandra.auth import AuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    SimpleConvictionPolicy,
    TokenAwarePolicy,
)

from . import _logging
from ._awaitable import AwaitableContext
from ._hosts import split_hosts
from ._probe import ProbeError, handshake
from ._reactor import Reactor, usable
from ._rows import named_tuple_rows
from ._secret import Secret, SecretAuthProvider
from .exceptions import ClosedError, ConfigurationError, ConnectionError, TimeoutError, translate
from .options import IO
from .retry import IdempotentRetryPolicy
from .session import AsyncSession

MIN_PROTOCOL_VERSION = 5


class _RememberingConvictionPolicy(SimpleConvictionPolicy):  # type: ignore[misc]
    """The driver's default conviction policy, keeping the failure that marked its host down (until it is up)."""

    last_failure: BaseException | None = None

    def add_failure(self, connection_exc: BaseException) -> bool:
        self.last_failure = connection_exc
        return bool(super().add_failure(connection_exc))

    def reset(self) -> None:
        self.last_failure = None
        super().reset()


class AsyncCluster:
    """A Cassandra cluster, used from asyncio. Cheap to create: nothing connects until :meth:`connect`.

    Args:
        contact_points: hosts to bootstrap from (default ``["127.0.0.1"]``).
        port: the native (CQL) port.
        auth_provider: e.g. ``PlainTextAuthProvider``; see also :meth:`create_with_auth`.
        protocol_version: CQL native protocol version, 5 or newer. By default cassnb asks for exactly v5 and
            fails at once, with a clear message, against a server that cannot speak it.
        executor_threads: the driver's worker threads (callbacks, schema work).
        ssl_context: an ``ssl.SSLContext`` for TLS.
        load_balancing_policy, retry_policy: policies of the default execution profile. The default retry
            policy retries writes only for idempotent statements (:class:`cassnb.retry.IdempotentRetryPolicy`).
        io: where the sockets are served: ``"loop"`` (default), on the event loop that awaits the requests,
            or ``"thread"``, on the driver's own I/O thread; see :class:`cassnb.options.IO`. A
            ``connection_class`` in ``driver_options`` and TLS connections use the driver's.
        **driver_options: passed through to ``cassandra.cluster.Cluster``.

    Raises:
        ConfigurationError: ``protocol_version`` below 5, or options the driver rejects.
    """

    def __init__(
        self,
        contact_points: Sequence[str] | None = None,
        port: int = 9042,
        *,
        auth_provider: AuthProvider | None = None,
        protocol_version: int | None = None,
        executor_threads: int = 2,
        ssl_context: Any = None,
        load_balancing_policy: Any = None,
        retry_policy: Any = None,
        io: IO | str = IO.LOOP,
        **driver_options: Any,
    ) -> None:
        if protocol_version is not None and int(protocol_version) < MIN_PROTOCOL_VERSION:
            raise ConfigurationError(
                f"Protocol version {protocol_version} is not supported. cassnb requires CQL native protocol v5 or "
                "higher (Apache Cassandra 4.0 or newer). Leave protocol_version unset (cassnb then uses v5) or "
                "pass protocol_version=5; if your server is Cassandra 3.x, upgrade it to 4.0+."
            )
        if isinstance(contact_points, str):
            contact_points = [contact_points]
        self.contact_points = list(contact_points or ["127.0.0.1"])
        self.port = port
        # Reconnect quickly after a restart: back off from 0.5 s up to 10 s between attempts.
        driver_options.setdefault("reconnection_policy", ExponentialReconnectionPolicy(0.5, 10.0))
        driver_options.setdefault("conviction_policy_factory", _RememberingConvictionPolicy)
        try:
            io = IO.parse(io)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self._reactor: Reactor | None = None
        if (
            io is IO.LOOP
            and "connection_class" not in driver_options
            and usable({"ssl_context": ssl_context, **driver_options})
        ):
            self._reactor = Reactor()
            driver_options["connection_class"] = self._reactor.connection_class()
        self._driver_options: dict[str, Any] = dict(
            port=port, auth_provider=auth_provider, protocol_version=int(protocol_version or MIN_PROTOCOL_VERSION),
            executor_threads=executor_threads, ssl_context=ssl_context, **driver_options,
        )  # fmt: skip
        self._policies = (load_balancing_policy, retry_policy)
        self._cluster = self._new_driver_cluster()
        self._closed = False
        self._sessions: list[AsyncSession] = []
        _logging.acquire()

    def _new_driver_cluster(self) -> Cluster:
        """A driver ``Cluster`` from this cluster's settings (again after a failed first connect, see connect)."""
        options = dict(self._driver_options)
        if options.get("execution_profiles") is None:
            load_balancing_policy, retry_policy = self._policies
            profile = ExecutionProfile(
                load_balancing_policy=load_balancing_policy or TokenAwarePolicy(DCAwareRoundRobinPolicy()),
                retry_policy=retry_policy or IdempotentRetryPolicy(),
                row_factory=named_tuple_rows,  # the driver's rows, without a new class per response
            )
            options["execution_profiles"] = {EXEC_PROFILE_DEFAULT: profile}
        try:
            return Cluster(self.contact_points, **options)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"invalid cluster option: {exc}") from exc

    @classmethod
    def create_with_auth(
        cls,
        contact_points: Sequence[str] | None = None,
        username: str = "",
        password: str | Secret = "",
        **kwargs: Any,
    ) -> AsyncCluster:
        """A cluster that logs in with ``username`` and ``password`` (PasswordAuthenticator).

        The password is held as a :class:`~cassnb._secret.Secret` from here on: it never shows in a repr, a
        log line, an error or the locals of a traceback.
        """
        password = Secret.of(password) or Secret("")  # first thing: this frame's local is masked from here on
        if not username:
            raise ConfigurationError("create_with_auth needs a username")
        return cls(contact_points, auth_provider=SecretAuthProvider(username, password), **kwargs)

    # ------------------------------------------------------------------ properties
    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def metadata(self) -> Any:
        """The driver's cluster metadata (keyspaces, tables, hosts, token map), kept current by the driver."""
        return self._cluster.metadata

    @property
    def protocol_version(self) -> int:
        version: int = self._cluster.protocol_version
        return version

    def keyspace_refused(self) -> bool:
        """Whether the hosts are down because the server refused a session's keyspace (it does not exist)."""
        failures = [getattr(host.conviction_policy, "last_failure", None) for host in self.metadata.all_hosts()]
        return any(failure is not None and "Problem while setting keyspace" in str(failure) for failure in failures)

    @property
    def driver_cluster(self) -> Cluster:
        """The underlying ``cassandra.cluster.Cluster``."""
        return self._cluster

    # ------------------------------------------------------------------ sessions
    def connect(self, keyspace: str | None = None, timeout: float | None = None) -> AwaitableContext[AsyncSession]:
        """Open a session: ``session = await cluster.connect(ks)`` or ``async with cluster.connect(ks) as s``.

        ``timeout`` bounds the wait in seconds (``None``: the driver's own connect timeouts apply); a session
        that opens after it is given up is shut down.

        Raises:
            ConnectionError: no host reachable, or the server cannot speak protocol v5 (the message names
                the versions it offers).
            AuthenticationError: the credentials were refused.
            ClosedError: the cluster was shut down.
            TimeoutError: no session within ``timeout``.
        """
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
            raise ConfigurationError(f"timeout must be positive seconds or None, got {timeout!r}")
        return AwaitableContext(lambda: self._open_session(keyspace, timeout))

    async def _open_session(self, keyspace: str | None, timeout: float | None = None) -> AsyncSession:
        if self._closed:
            raise ClosedError("this cluster was shut down; create a new AsyncCluster")
        if self._cluster.is_shutdown:
            # The driver shuts its Cluster down when the first connection fails; a later connect() of the same
            # AsyncCluster (the server has come up since) starts afresh from the same settings.
            self._cluster = self._new_driver_cluster()
        if self._reactor is not None:
            self._reactor.use(asyncio.get_running_loop())
        opening = asyncio.ensure_future(asyncio.to_thread(self._cluster.connect, keyspace))
        try:
            driver_session = await asyncio.wait_for(asyncio.shield(opening), timeout)
        except asyncio.CancelledError:  # the caller gave up: the session it would have had is closed when it opens
            opening.add_done_callback(_shut_down_late_session)
            raise
        except builtins.TimeoutError:
            opening.add_done_callback(_shut_down_late_session)
            raise TimeoutError(
                f"no session within {timeout} s (contact points {', '.join(map(str, self.contact_points))}); "
                "check that the server is up, or allow a longer timeout"
            ) from None
        except NoHostAvailable as exc:
            unsupported = await asyncio.to_thread(self._protocol_problem, exc)
            if unsupported is not None:
                await self.shutdown()
                error = ConnectionError(unsupported)
                error.driver_error = exc
                raise error from None
            raise translate(exc) from None
        except Exception as exc:
            raise translate(exc) from None
        session = AsyncSession(self, driver_session)
        self._sessions.append(session)
        return session

    def _protocol_problem(self, exc: NoHostAvailable) -> str | None:
        """If every host refused protocol v5, say which version the server speaks instead."""
        errors = getattr(exc, "errors", {}) or {}
        if not errors or not all("protocol" in str(e).lower() for e in errors.values()):
            return None
        for endpoint in errors:
            names, port = split_hosts(str(endpoint), self.port)  # the driver names them "host:port"
            host = names[0] if names else str(endpoint)
            try:
                handshake(host, port or self.port, timeout=2.0)
            except ProbeError as probe:
                offered = re.findall(r"(\d+)/v\d+", str(probe))
                best = f"up to v{max(map(int, offered))}" if offered else "only older versions"
            except (OSError, ValueError):
                continue
            else:
                return None  # the server does speak v5: the failure was something else
            return (
                f"the server at {endpoint} supports CQL native protocol {best}, but cassnb needs protocol v5 or "
                "newer (Apache Cassandra 4.0+): upgrade the server, or use the plain cassandra-driver for it"
            )
        return None

    # ------------------------------------------------------------------ lifecycle
    async def shutdown(self) -> None:
        """Close every session and connection of this cluster. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _logging.release()
        for session in self._sessions:
            with contextlib.suppress(Exception):
                await session.close()
        await asyncio.to_thread(self._shutdown_driver)

    def _shutdown_driver(self) -> None:
        self._cluster.shutdown()
        if self._reactor is not None:
            self._reactor.close()

    async def close(self) -> None:
        """Alias of :meth:`shutdown`, so a cluster is an ordinary closable resource."""
        await self.shutdown()

    async def __aenter__(self) -> AsyncCluster:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        auth = " auth" if self._cluster.auth_provider is not None else ""
        return f"<AsyncCluster {state}{auth} contact_points={self.contact_points} port={self.port}>"


def _shut_down_late_session(opening: asyncio.Future[Any]) -> None:
    """A session that opened after its caller gave up waiting is closed, not leaked."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().shutdown()
