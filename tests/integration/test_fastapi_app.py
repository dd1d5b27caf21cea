"""The FastAPI example (examples/fastapi_app) against the real server, through httpx's ASGI transport.

Each test enters the app's lifespan, so startup (connect, create schema, prepare) and shutdown are exercised
every time; the app works in a keyspace of its own, dropped at the end of the module.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

import cassnb
from examples.fastapi_app.app import create_app
from tests.conftest import ServerAddress

pytestmark = pytest.mark.asyncio

UNAVAILABLE = {"detail": "the database is unavailable; retry shortly"}


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://users.test")


@pytest.fixture(scope="module")
def app_keyspace(keyspace: str, driver_session: object) -> Iterator[str]:
    """The app creates this keyspace itself at startup; the module drops it at the end."""
    name = f"{keyspace}_fastapi"
    yield name
    driver_session.execute(f"DROP KEYSPACE IF EXISTS {name}")  # type: ignore[attr-defined]


@pytest_asyncio.fixture
async def service(cassandra_address: ServerAddress, app_keyspace: str) -> AsyncIterator[Service]:
    app = create_app(hosts=[cassandra_address.host], port=cassandra_address.port, keyspace=app_keyspace)
    async with app.router.lifespan_context(app), _client(app) as client:
        yield Service(app, client)
    assert not hasattr(app.state, "db"), "shutdown must drop the session from app.state"


async def _create(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    response = await client.post("/users", json={"name": name, "email": f"{name}@example.com"})
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    assert response.headers["location"] == f"/users/{body['id']}"
    return body


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_create_get_delete_and_404(service: Service) -> None:
    client = service.client
    created = await _create(client, "ada")
    assert created["name"] == "ada" and created["email"] == "ada@example.com"
    assert uuid.UUID(created["id"]) and created["created_at"].endswith("Z")

    fetched = await client.get(f"/users/{created['id']}")
    assert fetched.status_code == 200 and fetched.json() == created

    deleted = await client.delete(f"/users/{created['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    missing = await client.get(f"/users/{created['id']}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"no user with id {created['id']}"}
    assert (await client.delete(f"/users/{created['id']}")).status_code == 204  # idempotent


async def test_bad_ids_are_400_and_bad_bodies_422(service: Service) -> None:
    client = service.client
    for method in ("GET", "DELETE"):
        response = await client.request(method, "/users/not-a-uuid")
        assert response.status_code == 400
        assert response.json()["detail"].startswith("user_id must be a UUID")
    bodies: list[object] = [{"name": "x"}, {"name": "", "email": "a@b.io"}, {"name": "x", "email": "at"}, []]
    for body in bodies:
        assert (await client.post("/users", json=body)).status_code == 422, body


async def test_list_pages_through_every_user_exactly_once(service: Service) -> None:
    client = service.client
    mine = {(await _create(client, f"pager{i}"))["id"] for i in range(23)}
    stored = await service.app.state.db.session.execute("SELECT id FROM users")
    expected = {str(row.id) for row in stored}

    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/users", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["users"]) <= 7
        seen.extend(user["id"] for user in page["users"])
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a user came back on two pages"
    assert set(seen) == expected and mine <= expected
    assert pages >= -(-len(expected) // 7)
    print(f"{len(expected)} users in {pages} pages of 7")

    for limit in (0, 101, "x"):
        assert (await client.get("/users", params={"limit": limit})).status_code == 422


async def test_forged_cursor_is_400_and_never_reaches_cassandra(service: Service) -> None:
    """An unsigned paging state would make the driver drop its connection; the signature stops it first."""
    client = service.client
    for _ in range(3):
        await _create(client, "forger")
    first = (await client.get("/users", params={"limit": 1})).json()
    genuine = base64.urlsafe_b64decode(first["next"])
    forgeries = [
        "%%%not-base64",
        "é",
        base64.urlsafe_b64encode(b"garbage").decode(),
        base64.urlsafe_b64encode(genuine[:16] + b"garbage").decode(),  # tag of another state
        base64.urlsafe_b64encode(bytes(16) + genuine[16:]).decode(),  # real state, no valid tag
    ]
    for cursor in forgeries:
        response = await client.get("/users", params={"cursor": cursor})
        assert response.status_code == 400, cursor
        assert response.json() == {"detail": "invalid cursor: use `next` of a previous page"}
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/users", params={"cursor": first["next"]})).status_code == 200


async def test_health_reports_the_server_version(service: Service) -> None:
    response = await service.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["cassandra"].split(".")[0].isdigit()


async def test_100_concurrent_gets_and_posts(service: Service) -> None:
    client = service.client
    existing = await asyncio.gather(*(_create(client, f"old{i}") for i in range(50)))

    async def get(user: dict[str, str]) -> tuple[str, dict[str, str]]:
        response = await client.get(f"/users/{user['id']}")
        assert response.status_code == 200, response.text
        return "get", response.json()

    async def post(i: int) -> tuple[str, dict[str, str]]:
        return "post", await _create(client, f"new{i}")

    calls = [call for i, user in enumerate(existing) for call in (get(user), post(i))]
    started = time.perf_counter()
    results = await asyncio.gather(*calls)
    elapsed = time.perf_counter() - started
    print(f"100 concurrent requests (50 GET + 50 POST): {elapsed * 1000:.0f} ms")

    assert [body for kind, body in results if kind == "get"] == existing
    posted = [body for kind, body in results if kind == "post"]
    assert sorted(body["name"] for body in posted) == sorted(f"new{i}" for i in range(50))
    assert len({body["id"] for body in posted}) == 50
    for body in posted:
        assert (await client.get(f"/users/{body['id']}")).json() == body


async def test_startup_fails_fast_when_nothing_listens(app_keyspace: str) -> None:
    """No server: the lifespan raises cassnb.ConnectionError (uvicorn exits); requests meanwhile get 503."""
    port = _free_port()
    app = create_app(hosts=["127.0.0.1"], port=port, keyspace=app_keyspace)
    started = time.perf_counter()
    with pytest.raises(cassnb.ConnectionError, match=f"127.0.0.1:{port}"):
        async with app.router.lifespan_context(app):
            pytest.fail("startup must not succeed")
    assert time.perf_counter() - started < 5
    assert not hasattr(app.state, "db")

    async with _client(app) as client:
        for method, path in (("GET", "/health"), ("GET", f"/users/{uuid.uuid4()}"), ("GET", "/users")):
            response = await client.request(method, path)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "2"
            assert response.json() == UNAVAILABLE


async def test_request_after_session_closed_is_503(service: Service) -> None:
    client = service.client
    user = await _create(client, "before-close")
    await service.app.state.db.session.close()
    for response in (
        await client.get("/health"),
        await client.get(f"/users/{user['id']}"),
        await client.post("/users", json={"name": "late", "email": "late@example.com"}),
    ):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        assert response.json() == UNAVAILABLE  # nothing about sessions, statements or hosts


async def test_real_server_errors_map_to_400_and_504(service: Service) -> None:
    db = service.app.state.db

    @service.app.get("/test/invalid")
    async def invalid() -> None:
        await db.session.execute("SELECT no_such_column FROM users")

    @service.app.get("/test/slow")
    async def slow() -> None:
        await db.session.execute("SELECT * FROM system_schema.columns", timeout=1e-6)

    response = await service.client.get("/test/invalid")
    assert response.status_code == 400
    assert response.json() == {"detail": "the database rejected the request as invalid"}
    response = await service.client.get("/test/slow")
    assert response.status_code == 504
    assert response.json() == {"detail": "the database did not answer in time"}
    assert (await service.client.get("/health")).status_code == 200


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (cassnb.ConnectionError, 503),
        (cassnb.ClosedError, 503),
        (cassnb.UnavailableError, 503),
        (cassnb.TimeoutError, 504),
        (cassnb.InvalidQueryError, 400),
        (cassnb.QueryError, 500),
        (cassnb.UnauthorizedError, 500),
        (cassnb.AuthenticationError, 500),
        (cassnb.ConfigurationError, 500),
    ],
)
async def test_one_handler_maps_every_cassnb_error(error: type[cassnb.CassnbError], status: int) -> None:
    app = create_app(hosts=["127.0.0.1"], port=_free_port(), keyspace="unused")  # lifespan not entered

    @app.get("/boom")
    async def boom() -> None:
        raise error("SELECT * FROM secrets WHERE password = 'hunter2' on 10.0.0.7")

    async with _client(app) as client:
        response = await client.get("/boom")
    assert response.status_code == status
    assert ("retry-after" in response.headers) == (status == 503)
    for internal in ("hunter2", "10.0.0.7", "SELECT"):
        assert internal not in response.text


# --- what a model service must not let a client do ------------------------------------------------------


async def test_a_huge_body_is_refused_with_413_before_it_is_read(service: Service) -> None:
    huge = b'{"name": "' + b"x" * 10_000_000 + b'", "email": "a@b.io"}'
    response = await service.client.post("/users", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json() == {"detail": "request body too large"}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"name": "'
        for _ in range(100):
            yield b"y" * 100_000
        yield b'", "email": "a@b.io"}'

    streamed = await service.client.post("/users", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert (await service.client.get("/health")).status_code == 200


async def test_validation_errors_are_short_and_never_echo_the_input(service: Service) -> None:
    long_name = "n" * 12_000
    response = await service.client.post("/users", json={"name": long_name, "email": "a@b.io"})
    assert response.status_code == 422
    assert len(response.content) < 1_000 and long_name[:100] not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


async def test_a_lone_surrogate_is_422_not_500(service: Service) -> None:
    body = b'{"name": "\\ud800", "email": "a@b.io"}'
    response = await service.client.post("/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "ud800" not in response.text and len(response.content) < 500
    assert (await service.client.get("/health")).status_code == 200


async def test_dependencies_are_async_so_requests_take_no_extra_threads(service: Service) -> None:
    import inspect
    import threading

    from examples.fastapi_app import app as module

    assert inspect.iscoroutinefunction(module._database) and inspect.iscoroutinefunction(module._user_id)
    user = await _create(service.client, "threads")
    before = threading.active_count()
    peak = before
    done = False

    async def watch() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, threading.active_count())
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(watch())
    responses = await asyncio.gather(*(service.client.get(f"/users/{user['id']}") for _ in range(100)))
    done = True
    await watcher
    assert all(r.status_code == 200 for r in responses)
    assert peak - before <= 2, f"{peak - before} threads were started for 100 requests"


async def test_a_retried_create_makes_one_user(service: Service) -> None:
    client = service.client
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    body = {"name": "retry", "email": "retry@example.com"}
    first = await client.post("/users", json=body, headers=key)
    again = await client.post("/users", json=body, headers=key)  # as after a 504: the first one went through
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    stored = await service.app.state.db.session.execute(
        "SELECT count(*) FROM users WHERE id = %s", [uuid.UUID(first.json()["id"])]
    )
    assert stored.one()[0] == 1
    other = await client.post("/users", json={"name": "someone else", "email": "e@x.io"}, headers=key)
    assert other.status_code == 409
    chosen = str(uuid.uuid4())
    by_id = [await client.post("/users", json=body | {"id": chosen}) for _ in range(2)]
    assert [r.status_code for r in by_id] == [201, 200] and by_id[1].json()["id"] == chosen
