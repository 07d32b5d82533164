"""Micro-benchmarks of the bundled server's real code paths (pytest-benchmark).

The seed's `cargo bench tool_execution | session_management | notification_broadcasting`,
without its defect: every timed call runs the server's own code in process, with no mock
and no sleep in it. Setup (apps, sessions, open streams) stays outside the timed part.

- tool_execution: one `tools/call` through `Endpoint.route` (era pick, header / session
  checks, tool lookup, the tool, the encoded JSON response), per tool and protocol era;
  fast_compute through the whole ASGI app (called as an ASGI server calls it, no sockets)
  and through Quart's test client (which adds its own work); the event-loop floor.
- session_management: `SessionStore` create / look up / expire with 10, 1,000 and 100,000
  live sessions; the population is the same after every timed call.
- notification_broadcasting: one `Broadcaster.publish()` until every one of N open
  2026-07-28 `subscriptions/listen` streams (opened through `Endpoint.route`, parked on
  their queues as a served stream is) has yielded its event. Over real sockets:
  `benchmarks/server_fanout.py`.

Plain `pytest` runs each body once, as a check (benchmarks are disabled by default: see
`scenarios/conftest.py`). To measure:

    pytest scenarios/test_micro_benchmarks.py --benchmark-enable --benchmark-only

(`-k tool_execution`, `-k session_management`, `-k notification_broadcasting` pick one.)
Async paths run on a private event loop: a timed call is `loop.run_until_complete(...)` of
the server's coroutine, so each includes one task and one loop pass, as a served request
does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from mcpperf_server import ServerConfig, create_app
from mcpperf_server.app import Endpoint
from mcpperf_server.sessions import Session, SessionStore
from mcpperf_server.state import ServerState
from mcpperf_server.wire import Headers, parse

MODERN, LEGACY = "2026-07-28", "2025-11-25"
ERAS = [MODERN, LEGACY]
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}
CALLS: dict[str, dict[str, Any]] = {
    "fast_compute": {"input": 5},
    "session_counter": {"increment": 1, "counter_id": "bench"},
    "error_simulation": {"error_type": "invalid"},
}
LIVE_SESSIONS = [10, 1_000, 100_000]
ROUNDS = 5_000  # pedantic rounds of the O(1) session operations, one call each
SUBSCRIBERS = [1, 100, 1_000]


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A private event loop for this module's async paths (never the running one)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def run(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[Any]]) -> Callable[[], Any]:
    """A timed callable: one fresh coroutine from `make`, run to completion on `loop`."""
    return lambda: loop.run_until_complete(make())


# -- tool_execution ----------------------------------------------------------------------
def call_request(tool: str, era: str, session_id: str | None) -> tuple[bytes, list[Any]]:
    """(body, raw ASGI headers) of one tools/call in `era`, as a client sends it."""
    params: dict[str, Any] = {"name": tool, "arguments": CALLS[tool]}
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json, text/event-stream"),
        (b"mcp-protocol-version", era.encode()),
    ]
    if era == MODERN:
        params["_meta"] = META
        headers += [(b"mcp-method", b"tools/call"), (b"mcp-name", tool.encode())]
    else:
        assert session_id is not None
        headers.append((b"mcp-session-id", session_id.encode()))
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
    return json.dumps(body).encode(), headers


def check_result(status: int, data: bytes, tool: str) -> None:
    assert status == 200, data
    result = json.loads(data)["result"]
    output = result["structuredContent"]["output"]
    assert result["isError"] is (tool == "error_simulation")
    if tool == "fast_compute":
        assert output == 5 * math.factorial(100) % ((1 << 61) - 1)
    elif tool == "session_counter":
        assert isinstance(output, int)
        assert output >= 1
    else:
        assert output == "invalid"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    """The `/mcp` handlers on a fresh server state, as `create_app` wires them."""
    state = ServerState(ServerConfig())
    yield Endpoint(state)
    state.pool.shutdown()


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("tool", list(CALLS))
def test_tool_execution_dispatch(
    benchmark: Any, loop: asyncio.AbstractEventLoop, endpoint: Endpoint, tool: str, era: str
) -> None:
    """Body bytes + headers -> parse -> `Endpoint.route` -> response body bytes."""
    session = endpoint.state.sessions.create(LEGACY) if era == LEGACY else None
    body, raw = call_request(tool, era, session.id if session else None)
    headers = Headers(raw)
    route = endpoint.route

    async def call() -> tuple[int, bytes]:
        response = await route(parse(body), headers)
        return response.status_code, await response.get_data(as_text=False)

    benchmark.group = "tool_execution"
    status, data = benchmark(run(loop, call))
    check_result(status, data, tool)


@pytest.fixture
def served(loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    """A bundled app with its startup run (`before_serving`), torn down after the test."""
    served: Any = create_app(ServerConfig()).test_app()  # entered by hand: spans many runs
    loop.run_until_complete(served.__aenter__())
    yield served
    loop.run_until_complete(served.__aexit__(None, None, None))


def legacy_session(served: Any, era: str) -> str | None:
    return served.app.config["MCPPERF_STATE"].sessions.create(LEGACY).id if era == LEGACY else None


@pytest.mark.parametrize("era", ERAS)
def test_tool_execution_asgi(
    benchmark: Any, loop: asyncio.AbstractEventLoop, served: Any, era: str
) -> None:
    """fast_compute through the whole ASGI app, called as an ASGI server calls it: scope,
    receive (the body, then nothing until the app is done), send (collected)."""
    body, raw = call_request("fast_compute", era, legacy_session(served, era))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
        "extensions": {},
        "headers": [*raw, (b"content-length", str(len(body)).encode())],
    }
    app = served.app

    async def call() -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []
        queue = [{"type": "http.request", "body": body, "more_body": False}]
        idle = asyncio.Event()  # a connection with nothing more to say: never set

        async def receive() -> dict[str, Any]:
            if queue:
                return queue.pop()
            await idle.wait()  # cancelled by the app once it has answered
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    benchmark.group = "tool_execution"
    status, data = benchmark(run(loop, call))
    check_result(status, data, "fast_compute")


@pytest.mark.parametrize("era", ERAS)
def test_tool_execution_test_client(
    benchmark: Any, loop: asyncio.AbstractEventLoop, served: Any, era: str
) -> None:
    """fast_compute through Quart's test client: the ASGI path plus the client's own work."""
    client = served.test_client()
    body, raw = call_request("fast_compute", era, legacy_session(served, era))
    headers = {k.decode(): v.decode() for k, v in raw if k != b"host"}

    async def call() -> tuple[int, bytes]:
        response = await client.post("/mcp", data=body, headers=headers)
        return response.status_code, await response.get_data(as_text=False)

    benchmark.group = "tool_execution"
    status, data = benchmark(run(loop, call))
    check_result(status, data, "fast_compute")


def test_tool_execution_loop_floor(benchmark: Any, loop: asyncio.AbstractEventLoop) -> None:
    """The harness alone: an empty coroutine through `run_until_complete`, for reading the
    tool_execution numbers (a served request pays a task and a loop pass too)."""

    async def nothing() -> int:
        return 1

    benchmark.group = "tool_execution"
    assert benchmark(run(loop, nothing)) == 1


# -- session_management ------------------------------------------------------------------
class Population:
    """A real `SessionStore` holding `live` sessions, and their ids in a fixed random order."""

    def __init__(self, live: int) -> None:
        self.live = live
        config = ServerConfig()
        self.store = SessionStore(config.session_idle_timeout_s, max_sessions=live + 1_000)
        self.ids = [self.store.create(LEGACY).id for _ in range(live)]
        random.Random(live).shuffle(self.ids)

    def stale(self) -> Session:
        """One more session, idle for longer than the timeout (not yet swept)."""
        session = self.store.create(LEGACY)
        session.last_seen -= self.store.idle_timeout_s + 1
        return session

    def sweep_rounds(self) -> int:
        """A sweep is O(live): fewer rounds for more sessions, about the same total time."""
        return max(50, min(5_000, 2_000_000 // self.live))


@pytest.fixture(scope="module", params=LIVE_SESSIONS, ids=lambda n: f"{n}-live")
def population(request: pytest.FixtureRequest) -> Population:
    return Population(request.param)


def test_session_management_create(benchmark: Any, population: Population) -> None:
    """`SessionStore.create` (id minting included); each new session is deleted untimed."""
    store, made = population.store, []

    def create() -> Session:
        session = store.create(LEGACY)
        made.append(session.id)
        return session

    benchmark.group = "session_management"
    session = benchmark.pedantic(
        create, teardown=lambda: store.delete(made.pop()), rounds=ROUNDS, warmup_rounds=10
    )
    assert session.protocol_version == LEGACY
    for sid in made:  # a disabled benchmark skips teardown: this one is still there
        assert store.delete(sid)
    assert len(store) == population.live


def test_session_management_lookup(benchmark: Any, population: Population) -> None:
    """`SessionStore.get` of a live session (the per-request lookup), ids in random order."""
    get, ids = population.store.get, itertools.cycle(population.ids)
    benchmark.group = "session_management"
    session = benchmark(lambda: get(next(ids)))
    assert session is not None
    assert session.id in population.ids


def test_session_management_expire_sweep(benchmark: Any, population: Population) -> None:
    """The periodic `sweep()` over every live session, expiring the one that went idle."""

    def setup() -> None:
        population.stale()

    benchmark.group = "session_management"
    expired = benchmark.pedantic(
        population.store.sweep, setup=setup, rounds=population.sweep_rounds()
    )
    assert expired == 1
    assert len(population.store) == population.live


def test_session_management_expire_on_lookup(benchmark: Any, population: Population) -> None:
    """`get()` of a session idle past the timeout: found stale, dropped, None returned."""

    def setup() -> tuple[tuple[str], dict[str, Any]]:
        return (population.stale().id,), {}

    benchmark.group = "session_management"
    found = benchmark.pedantic(population.store.get, setup=setup, rounds=ROUNDS, warmup_rounds=10)
    assert found is None
    assert len(population.store) == population.live


# -- notification_broadcasting -----------------------------------------------------------
class Listeners:
    """N 2026-07-28 `subscriptions/listen` streams on one server state, each stream being
    the async generator that the ASGI server would iterate."""

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.loop = loop
        self.state = ServerState(ServerConfig())
        endpoint = Endpoint(self.state)
        headers = Headers(
            [(b"mcp-protocol-version", MODERN.encode()), (b"mcp-method", b"subscriptions/listen")]
        )
        self.bodies: list[Any] = []  # quart's IterableBody, typed as its base class
        for sub in range(count):
            msg = parse(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": sub,
                        "method": "subscriptions/listen",
                        "params": {"notifications": {"toolsListChanged": True}, "_meta": META},
                    }
                ).encode()
            )
            response = loop.run_until_complete(endpoint.route(msg, headers))
            self.bodies.append(response.response)
        self.streams = [body.__aiter__() for body in self.bodies]

        async def first() -> list[bytes]:
            return list(await asyncio.gather(*[s.__anext__() for s in self.streams]))

        acks = loop.run_until_complete(first())
        assert all(b"subscriptions/acknowledged" in ack for ack in acks)
        self.waiting: list[asyncio.Future[bytes]] = []

    def park(self) -> None:
        """Untimed: every stream asks for its next event and blocks on its empty queue."""

        async def park() -> None:
            self.waiting = [asyncio.ensure_future(s.__anext__()) for s in self.streams]
            for _ in range(3):  # let each one reach its queue.get(); yields, not a delay
                await asyncio.sleep(0)

        self.loop.run_until_complete(park())

    async def deliver(self) -> tuple[int, list[bytes]]:
        """Timed: publish one broadcast; done when every stream has yielded it."""
        sent = self.state.broadcaster.publish()
        return sent, await asyncio.gather(*self.waiting)

    def close(self) -> None:
        self.state.begin_shutdown()  # each stream ends with its closing result

        async def drain() -> None:
            for body, stream in zip(self.bodies, self.streams, strict=True):
                async for _ in stream:
                    pass
                await body.__aexit__(None, None, None)

        self.loop.run_until_complete(drain())
        self.state.pool.shutdown()
        assert len(self.state.broadcaster) == 0


@pytest.fixture(params=SUBSCRIBERS, ids=lambda n: f"{n}-subscribers")
def listeners(
    request: pytest.FixtureRequest, loop: asyncio.AbstractEventLoop
) -> Iterator[Listeners]:
    group = Listeners(loop, request.param)
    yield group
    group.close()


def test_notification_broadcasting(benchmark: Any, listeners: Listeners) -> None:
    """One broadcast, end to end: publish -> every parked listen stream yields its event."""
    count = len(listeners.streams)
    benchmark.group = "notification_broadcasting"
    sent, events = benchmark.pedantic(
        run(listeners.loop, listeners.deliver),
        setup=listeners.park,
        rounds=max(50, 3_000 // count),
        warmup_rounds=3,
    )
    assert sent == count
    for sub, event in enumerate(events):
        assert b"notifications/tools/list_changed" in event
        assert event.endswith(
            b'"io.modelcontextprotocol/subscriptionId":' + str(sub).encode() + b"}}}\n\n"
        )
