"""A small FastAPI service over cassnb: one session per process, prepared statements, signed paging cursors,
bounded request bodies, short error replies and creates that a client can safely retry.

Run with ``uvicorn examples.fastapi_app.app:app`` (settings from ``CASSNB_HOSTS``, ``CASSNB_PORT``,
``CASSNB_KEYSPACE``) or ``uvicorn --factory examples.fastapi_app.app:create_app``. See README.md here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from cassandra.query import PreparedStatement
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import cassnb

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
MAX_PAGE = 100
MAX_BODY_BYTES = 16 * 1024  # a user is a few hundred bytes; anything much larger is refused unread (413)
_IDEMPOTENCY = uuid.UUID("0d7e1c3a-5f52-4a4b-9d1e-2b8f4c6a7e90")  # namespace for ids derived from keys
_KEYSPACE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")
_COLUMNS = "id, name, email, created_at"
STATEMENTS = {  # prepared once at startup; each becomes a field of Database
    "get_user": f"SELECT {_COLUMNS} FROM users WHERE id = ?",
    "insert_user": f"INSERT INTO users ({_COLUMNS}) VALUES (?, ?, ?, ?) IF NOT EXISTS",
    "delete_user": "DELETE FROM users WHERE id = ?",
    "list_users": f"SELECT {_COLUMNS} FROM users",
    "release_version": "SELECT release_version FROM system.local",
}

# First match wins, so subclasses come before the classes they extend. ClosedError is a ConnectionError.
ERROR_STATUS: tuple[tuple[type[Exception] | tuple[type[Exception], ...], int, str], ...] = (
    ((cassnb.ConnectionError, cassnb.UnavailableError), 503, "the database is unavailable; retry shortly"),
    (cassnb.TimeoutError, 504, "the database did not answer in time"),
    (cassnb.InvalidQueryError, 400, "the database rejected the request as invalid"),
    (cassnb.CassnbError, 500, "internal server error"),
)


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=200)  # text with a lone surrogate is refused here too (422)
    email: str = Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    id: uuid.UUID | None = Field(default=None, description="optional: a client-chosen id makes a retried create safe")


class User(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    created_at: datetime


class UserPage(BaseModel):
    users: list[User]
    next: str | None = Field(description="cursor for the following page; null on the last page")


@dataclass(frozen=True)
class Database:
    """The open session and the statements prepared for it at startup."""

    session: cassnb.AsyncSession
    get_user: PreparedStatement
    insert_user: PreparedStatement
    delete_user: PreparedStatement
    list_users: PreparedStatement
    release_version: PreparedStatement


class Cursors:
    """Paging states travel to clients as base64 with an HMAC tag, and only signed ones are sent back.

    Why sign: Cassandra answers a malformed paging state with a *protocol* error, on which the driver closes
    the connection and marks the host down, so an unchecked cursor would let any client take the service
    offline. Set ``CASSNB_CURSOR_SECRET`` so that cursors survive restarts and work across replicas.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _tag(self, state: bytes) -> bytes:
        return hmac.new(self._secret, b"users:" + state, hashlib.sha256).digest()[:16]

    def encode(self, state: bytes) -> str:
        return base64.urlsafe_b64encode(self._tag(state) + state).decode("ascii")

    def decode(self, cursor: str) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
        except (UnicodeEncodeError, binascii.Error, ValueError):
            raw = b""
        tag, state = raw[:16], raw[16:]
        if not state or not hmac.compare_digest(tag, self._tag(state)):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid cursor: use `next` of a previous page")
        return state


async def _user_id(user_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(user_id)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "user_id must be a UUID, e.g. 123e4567-e89b-12d3-a456-426614174000"
        ) from None


async def _database(request: Request) -> Database:
    db: Database | None = getattr(request.app.state, "db", None)
    if db is None:  # startup failed or shutdown began: as unavailable as a lost connection
        raise cassnb.ConnectionError("the service holds no Cassandra session")
    return db


def _user(row: Any) -> User:
    created = row.created_at.replace(tzinfo=UTC)  # the driver returns timestamps as naive UTC
    return User(id=row.id, name=row.name, email=row.email, created_at=created)


async def _map_error(request: Request, exc: Exception) -> JSONResponse:
    """The one place cassnb errors become HTTP answers; clients never see statements or server messages."""
    code, detail = next((c, d) for kind, c, d in ERROR_STATUS if isinstance(exc, kind))
    log.log(logging.ERROR if code == 500 else logging.WARNING, "%s %s -> %d: %s",
            request.method, request.url.path, code, exc, exc_info=exc if code == 500 else None)  # fmt: skip
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if code == 503 else None
    return JSONResponse({"detail": detail}, status_code=code, headers=headers)


async def _short_validation_errors(request: Request, exc: Exception) -> JSONResponse:
    """422 without echoing the input back: a 10 MB field would come back as a 10 MB reply."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [str(part) for part in error.get("loc", ())][:4], "msg": str(error.get("msg", ""))[:200]}
        for error in exc.errors()[:10]
    ]
    return JSONResponse({"detail": problems}, status_code=422)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413, and no more of it is read.

    A declared ``Content-Length`` over the limit is refused at once; a body that grows past it as it arrives
    is cut there (the app sees its end) and whatever the app would have answered is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        too_large = False

        async def counted_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(send)

        await self.app(scope, counted_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        body = b'{"detail":"request body too large"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


DB = Annotated[Database, Depends(_database)]
UserId = Annotated[uuid.UUID, Depends(_user_id)]


def create_app(
    hosts: Sequence[str] | None = None,
    port: int | None = None,
    keyspace: str | None = None,
    *,
    cursor_secret: bytes | None = None,
) -> FastAPI:
    """Build the service; nothing connects until the lifespan starts.

    Raises:
        ValueError: ``keyspace`` is not a plain CQL identifier (it is interpolated into DDL).
    """
    hosts = list(hosts or [h.strip() for h in os.environ.get("CASSNB_HOSTS", "127.0.0.1").split(",")])
    port = port or int(os.environ.get("CASSNB_PORT", "9042"))
    keyspace = keyspace or os.environ.get("CASSNB_KEYSPACE", "cassnb_fastapi")
    if not _KEYSPACE.fullmatch(keyspace):
        raise ValueError(f"keyspace must be letters, digits and underscores after a letter: {keyspace!r}")
    secret = cursor_secret or os.environ.get("CASSNB_CURSOR_SECRET", "").encode() or secrets.token_bytes(32)
    cursors = Cursors(secret)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Any failure here (no server: cassnb.ConnectionError) aborts startup; the cluster is shut down.
        async with cassnb.AsyncCluster(hosts, port=port) as cluster:
            session = await cluster.connect()
            await session.execute(  # development default; production keyspaces come from migrations
                f"CREATE KEYSPACE IF NOT EXISTS {keyspace} "
                "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
            )
            await session.set_keyspace(keyspace)
            await session.execute(
                "CREATE TABLE IF NOT EXISTS users "
                "(id uuid PRIMARY KEY, name text, email text, created_at timestamp)"
            )
            prepared = {name: await session.prepare(cql) for name, cql in STATEMENTS.items()}
            prepared["delete_user"].is_idempotent = True  # same id, same effect: safe to retry on a timeout
            app.state.db = Database(session, **prepared)
            log.info("connected to Cassandra at %s port %d, keyspace %s", hosts, port, keyspace)
            try:
                yield
            finally:
                del app.state.db

    app = FastAPI(title="cassnb users", lifespan=lifespan)
    app.add_exception_handler(cassnb.CassnbError, _map_error)
    app.add_exception_handler(RequestValidationError, _short_validation_errors)
    app.add_middleware(BodyLimit)

    @app.get("/health")
    async def health(db: DB) -> dict[str, str]:
        row = (await db.session.execute(db.release_version, timeout=2.0)).one()
        return {"status": "ok", "cassandra": row.release_version}

    @app.post("/users", status_code=status.HTTP_201_CREATED)
    async def create_user(
        body: NewUser,
        db: DB,
        response: Response,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> User:
        """Create a user. A client that may retry (after a timeout, say) sends an ``Idempotency-Key`` header or
        an ``id``: the same request again then returns the same user (200) instead of making a second one."""
        if body.id is not None:
            user_id = body.id
        elif idempotency_key is not None:
            user_id = uuid.uuid5(_IDEMPOTENCY, idempotency_key)
        else:
            user_id = uuid.uuid4()
        now = datetime.now(UTC)
        created = now.replace(microsecond=now.microsecond // 1000 * 1000)  # Cassandra keeps milliseconds
        user = User(id=user_id, name=body.name, email=body.email, created_at=created)
        # IF NOT EXISTS: a second create with the same id never overwrites the first.
        result = await db.session.execute(db.insert_user, (user.id, user.name, user.email, user.created_at))
        if not result.was_applied:
            existing = _user(result.one())
            if (existing.name, existing.email) != (user.name, user.email):
                raise HTTPException(status.HTTP_409_CONFLICT, "that id (or Idempotency-Key) belongs to another user")
            user = existing
            response.status_code = status.HTTP_200_OK
        response.headers["Location"] = f"/users/{user.id}"
        return user

    @app.get("/users/{user_id}")
    async def get_user(user_id: UserId, db: DB) -> User:
        row = (await db.session.execute(db.get_user, (user_id,))).one()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user with id {user_id}")
        return _user(row)

    @app.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_user(user_id: UserId, db: DB) -> None:
        # Idempotent: a missing user is also 204 (a 404 would cost a read or a lightweight transaction).
        await db.session.execute(db.delete_user, (user_id,))

    @app.get("/users")
    async def list_users(
        db: DB, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20, cursor: str | None = None
    ) -> UserPage:
        state = cursors.decode(cursor) if cursor else None
        page = await db.session.execute(db.list_users, paging_state=state, fetch_size=limit)
        following = cursors.encode(page.paging_state) if page.paging_state else None
        return UserPage(users=[_user(row) for row in page], next=following)

    return app


app = create_app()
