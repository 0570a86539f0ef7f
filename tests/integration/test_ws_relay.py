"""The relay served by uvicorn on a real port, driven by real WebSocket clients and real HTTP events."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from sqlalchemy import delete
from sqlalchemy import event as sqlalchemy_event
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rlarena.adapters.db.models import Agent, User
from rlarena.adapters.tokens import TokenService
from rlarena.bootstrap import Platform
from rlarena.events.catalogue import EventType
from rlarena.relay.app import Relay, RelayOptions, create_app
from rlarena.relay.directory import DatabaseDirectory
from rlarena.relay.messages import MatchFacts
from tests.conftest import TEST_SECRET
from tests.support.relay import FakeDirectory, build_event, rating_updated, scheduled
from tests.support.seed import insert_match

pytestmark = pytest.mark.asyncio

HOST = "127.0.0.1"
TOKENS = TokenService(TEST_SECRET, timedelta(hours=1))
WAIT = 5.0


def token_for(user: uuid.UUID, issued: datetime | None = None) -> str:
    return TOKENS.issue(user, "player", issued or datetime.now(UTC))


@dataclass
class Served:
    relay: Relay
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/api/v1/ws"

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def post(self, event: CloudEvent, *, structured: bool = False) -> httpx.Response:
        headers, body = to_structured(event) if structured else to_binary(event)
        async with httpx.AsyncClient(timeout=WAIT) as client:
            return await client.post(self.http_url + "/", headers=headers, content=body)

    async def until(self, condition: Callable[[Relay], bool]) -> None:
        deadline = asyncio.get_running_loop().time() + WAIT
        while not condition(self.relay):
            assert asyncio.get_running_loop().time() < deadline, "the relay never reached the expected state"
            await asyncio.sleep(0.01)


def listening_socket(port: int = 0, send_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer:  # accepted connections inherit it: a small one makes a stalled reader show quickly
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind((HOST, port))
    return sock


@contextlib.asynccontextmanager
async def serving(
    relay: Relay, *, port: int = 0, ping_interval: float = 20.0, ping_timeout: float = 20.0, send_buffer: int = 0
) -> AsyncIterator[Served]:
    sock = listening_socket(port, send_buffer or None)
    config = uvicorn.Config(
        create_app(relay),
        log_level="warning",
        lifespan="on",
        ws_ping_interval=ping_interval,
        ws_ping_timeout=ping_timeout,
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "uvicorn exited at start-up"
        await asyncio.sleep(0.01)
    try:
        yield Served(relay, sock.getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


def make_relay(directory: FakeDirectory | DatabaseDirectory | None = None, **options: Any) -> Relay:
    return Relay(TOKENS, directory or FakeDirectory(), RelayOptions(**options))


@contextlib.asynccontextmanager
async def client(
    served: Served, token: str | None = None, *, by: str = "header", **kwargs: Any
) -> AsyncIterator[ClientConnection]:
    url, headers = served.ws_url, {}
    if token and by == "header":
        headers["Authorization"] = f"Bearer {token}"
    elif token:
        url += f"?token={token}"
    async with connect(url, additional_headers=headers, open_timeout=WAIT, **kwargs) as websocket:
        yield websocket


async def receive(websocket: ClientConnection) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(websocket.recv(), WAIT))
    assert isinstance(message, dict)
    return message


async def closed(websocket: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    with pytest.raises(ConnectionClosed) as ended:
        while True:
            await asyncio.wait_for(websocket.recv(), WAIT)
    assert ended.value.rcvd is not None, "the connection ended without a close frame"
    return ended.value.rcvd.code, ended.value.rcvd.reason


async def send(websocket: ClientConnection, message: dict[str, Any] | str | bytes) -> None:
    await websocket.send(message if isinstance(message, str | bytes) else json.dumps(message))


# --- authentication -----------------------------------------------------------------------------------


async def test_a_token_in_the_authorization_header_authenticates_and_events_for_the_user_arrive() -> None:
    user = uuid.uuid4()
    async with serving(make_relay()) as served, client(served, token_for(user)) as websocket:
        hello = await receive(websocket)
        assert hello == {"type": "connected", "payload": {"userId": str(user), "anonymous": False}}

        assert (await served.post(build_event(user_id=user))).status_code == 202

        message = await receive(websocket)
        assert message["type"] == "build_status"
        assert message["payload"]["status"] == "building"


async def test_a_token_in_the_query_string_authenticates_as_browsers_must() -> None:
    user = uuid.uuid4()
    async with serving(make_relay()) as served, client(served, token_for(user), by="query") as websocket:
        assert (await receive(websocket))["payload"]["userId"] == str(user)


@pytest.mark.parametrize(
    ("token", "reason_starts"),
    [
        ("not-a-token", "invalid_token: invalid token"),
        (token_for(uuid.uuid4(), datetime.now(UTC) - timedelta(hours=2)), "token_expired: token has expired"),
        (None, "authentication_required: authentication required"),
    ],
)
async def test_a_bad_expired_or_missing_token_is_closed_with_4401_and_a_reason_saying_so(
    token: str | None, reason_starts: str
) -> None:
    async with serving(make_relay()) as served, client(served, token) as websocket:
        code, reason = await closed(websocket)

    assert code == 4401
    assert reason.startswith(reason_starts)


async def test_a_deleted_users_token_is_closed_with_4401_by_the_platforms_relay(platform: Platform) -> None:
    """As on the HTTP routes: a valid token of an account that no longer exists is refused."""
    with platform.uow() as uow:
        ghost, living = (
            User(username="ghost", email="g@e.io", password_hash="x"),
            User(username="living", email="l@e.io", password_hash="x"),
        )
        uow.session.add_all([ghost, living])
        uow.commit()
    now = datetime.now(UTC)
    ghost_token = platform.tokens.issue(ghost.id, "ghost", now)
    living_token = platform.tokens.issue(living.id, "living", now)
    with platform.uow() as uow:
        uow.session.execute(delete(User).where(User.id == ghost.id))
        uow.commit()

    async with serving(Relay.for_platform(platform)) as served:
        async with client(served, ghost_token) as websocket:
            code, reason = await closed(websocket)
        async with client(served, living_token) as websocket:
            assert (await receive(websocket))["type"] == "connected"

    assert code == 4401
    assert reason.startswith("unknown_user: this account no longer exists")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("GET", "/api/v1/ws%0A/x", 404, "not_found"),
        ("TRACE", "/", 405, "method_not_allowed"),
        ("PROPFIND", "/health", 405, "method_not_allowed"),
        ("DELETE", "/api/v1/ws", 405, "method_not_allowed"),
    ],
)
async def test_what_routing_refuses_is_the_json_error_body(method: str, path: str, status: int, code: str) -> None:
    async with serving(make_relay()) as served, httpx.AsyncClient() as http:
        reply = await http.request(method, served.http_url + path)
    assert reply.status_code == status
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["code"] == code and body["error"]
    if status == 405:
        assert reply.headers["allow"]


# --- who receives what ----------------------------------------------------------------------------------


async def test_private_events_reach_only_their_user() -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with (
        serving(make_relay()) as served,
        client(served, token_for(alice)) as mine,
        client(served, token_for(bob)) as theirs,
    ):
        await receive(mine)
        await receive(theirs)

        await served.post(build_event(user_id=alice, message="for alice"))
        await served.post(build_event(user_id=bob, message="for bob"))

        assert (await receive(mine))["payload"]["message"] == "for alice"
        assert (await receive(theirs))["payload"]["message"] == "for bob"  # alice's never came first


async def test_every_connection_of_a_user_receives_and_a_reconnect_does_not_disturb_the_others() -> None:
    user = uuid.uuid4()
    async with serving(make_relay()) as served, client(served, token_for(user)) as steady:
        await receive(steady)
        async with client(served, token_for(user)) as second:
            await receive(second)
            await served.post(build_event(user_id=user, message="one"))
            assert (await receive(second))["payload"]["message"] == "one"
        assert (await receive(steady))["payload"]["message"] == "one"

        async with client(served, token_for(user)) as reconnected:  # the second tab comes back
            await receive(reconnected)
            await served.post(build_event(user_id=user, message="two"))
            assert (await receive(reconnected))["payload"]["message"] == "two"
        assert (await receive(steady))["payload"]["message"] == "two"
        assert served.relay.hub.connections == 1


async def test_subscribe_and_unsubscribe_to_a_leaderboard_channel_anonymously() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()
    async with serving(make_relay(directory, allow_anonymous=True)) as served, client(served) as websocket:
        assert (await receive(websocket))["payload"] == {"userId": None, "anonymous": True}
        await send(websocket, {"type": "subscribe", "channel": "leaderboard:pong"})
        assert await receive(websocket) == {"type": "subscribed", "payload": {"channel": "leaderboard:pong"}}

        await served.post(build_event(user_id=uuid.uuid4()))  # someone's private news: not for us
        await served.post(rating_updated(facts, uuid.uuid4()))
        update = await receive(websocket)
        assert update["type"] == "leaderboard_update"
        assert update["payload"]["changes"][0]["eloChange"] == 20

        await send(websocket, {"type": "unsubscribe", "payload": {"channel": "leaderboard:pong"}})
        assert (await receive(websocket))["type"] == "unsubscribed"
        await served.post(rating_updated(facts, uuid.uuid4()))
        await send(websocket, {"type": "ping"})
        assert (await receive(websocket))["type"] == "pong"  # nothing arrived between


async def test_an_agents_public_channel_follows_its_matches() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()
    match_id = uuid.uuid4()
    directory.matches[match_id] = facts
    async with serving(make_relay(directory)) as served, client(served, token_for(uuid.uuid4())) as fan:
        await receive(fan)
        await send(fan, {"type": "subscribe", "channel": f"agent:{facts.agent2_id}"})
        await receive(fan)

        await served.post(scheduled(facts, match_id))

        created = await receive(fan)
        assert created["type"] == "match_created"
        assert created["payload"]["matchId"] == str(match_id)


async def test_malformed_messages_get_an_error_and_the_connection_stays_open() -> None:
    async with serving(make_relay()) as served, client(served, token_for(uuid.uuid4())) as websocket:
        await receive(websocket)
        malformed: list[tuple[dict[str, Any] | str | bytes, str]] = [
            ("{not json", "invalid_message"),
            ({"type": "dance"}, "unknown_message_type"),
            ({"type": "subscribe", "channel": "user:someone-else"}, "unknown_channel"),
            ({"type": "subscribe", "channel": "leaderboard:snakes"}, "unknown_environment"),
            (b"\x00binary", "invalid_message"),
            ("x" * 10_000, "too_large"),
        ]
        for bad, code in malformed:
            await send(websocket, bad)
            reply = await receive(websocket)
            assert reply["type"] == "error", bad
            assert reply["payload"]["code"] == code
            assert reply["payload"]["error"]

        await send(websocket, {"type": "ping"})
        assert (await receive(websocket))["type"] == "pong"


# --- backpressure and liveness --------------------------------------------------------------------------


async def test_a_slow_client_is_dropped_with_4008_while_a_fast_one_keeps_receiving() -> None:
    user = uuid.uuid4()
    relay = make_relay(queue_size=8)
    filler = "x" * 2000
    stalled = socket.socket()  # small buffers: the stalled reader backs up after a few dozen messages
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    async def post_and_check(number: int, fast: ClientConnection) -> None:
        await served.post(build_event(user_id=user, message=f"{number} {filler}"))
        assert (await receive(fast))["payload"]["message"].startswith(f"{number} ")

    async with serving(relay, send_buffer=4096) as served:
        stalled.connect((HOST, served.port))
        async with (
            client(served, token_for(user), sock=stalled, max_queue=1) as slow,
            client(served, token_for(user)) as fast,
        ):
            await receive(slow)
            await receive(fast)

            sent = 0
            while relay.hub.connections == 2:  # the slow one reads nothing meanwhile
                assert sent < 500, "the stalled client was never dropped"
                await post_and_check(sent, fast)
                sent += 1

            got = 0
            with pytest.raises(ConnectionClosed) as ended:
                while True:
                    await asyncio.wait_for(slow.recv(), WAIT)
                    got += 1
            assert ended.value.rcvd is not None
            assert ended.value.rcvd.code == 4008
            assert "too slow" in ended.value.rcvd.reason
            assert 0 < got < sent

            for number in range(sent, sent + 10):
                await post_and_check(number, fast)


async def test_a_peer_that_stops_answering_pings_is_cleaned_up() -> None:
    relay = make_relay()
    async with serving(relay, ping_interval=0.1, ping_timeout=0.2) as served:
        reader, writer = await asyncio.open_connection(HOST, served.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /api/v1/ws?token={token_for(uuid.uuid4())} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert response.startswith(b"HTTP/1.1 101")
        await served.until(lambda relay: relay.hub.connections == 1)

        # This peer never reads nor answers the server's pings again.
        await served.until(lambda relay: relay.hub.connections == 0)
        writer.close()


async def test_the_relay_refuses_connections_past_its_limits_with_a_code_saying_which() -> None:
    user = uuid.uuid4()
    relay = make_relay(max_connections=2, max_connections_per_user=1)
    async with serving(relay) as served, client(served, token_for(user)) as first:
        await receive(first)
        async with client(served, token_for(user)) as twin:
            assert (await closed(twin))[0] == 4429
        async with client(served, token_for(uuid.uuid4())) as second:
            await receive(second)
            async with client(served, token_for(uuid.uuid4())) as third:
                code, reason = await closed(third)
    assert code == 1013
    assert "try again later" in reason


# --- restarts ---------------------------------------------------------------------------------------------


async def test_after_a_relay_restart_the_client_is_told_to_reconnect_and_its_reconnect_receives_events() -> None:
    user = uuid.uuid4()
    async with serving(make_relay()) as served:
        port = served.port
        websocket = await connect(served.ws_url, additional_headers={"Authorization": f"Bearer {token_for(user)}"})
        await receive(websocket)
    # The relay stopped (a rollout, a crash): uvicorn said so with 1012, "service restart".
    assert (await closed(websocket))[0] == 1012

    async with serving(make_relay(), port=port) as restarted, client(restarted, token_for(user)) as again:
        await receive(again)
        await restarted.post(build_event(user_id=user, message="after the restart"))
        assert (await receive(again))["payload"]["message"] == "after the restart"


# --- the event side -------------------------------------------------------------------------------------


async def test_structured_mode_events_are_accepted_too() -> None:
    user = uuid.uuid4()
    async with serving(make_relay()) as served, client(served, token_for(user)) as websocket:
        await receive(websocket)
        assert (await served.post(build_event(user_id=user), structured=True)).status_code == 202
        assert (await receive(websocket))["type"] == "build_status"


async def test_what_is_not_a_relayable_cloudevent_is_answered_400_so_the_broker_does_not_retry() -> None:
    async with serving(make_relay()) as served, httpx.AsyncClient(timeout=WAIT) as http:
        garbage = await http.post(served.http_url + "/", content=b"{}", headers={"content-type": "application/json"})
        unknown = await served.post(CloudEvent({"type": EventType.MATCH_FINISHED.value, "source": "/x"}, {}))
        too_big = await http.post(served.http_url + "/", content=b"x" * (2 * 1024 * 1024))

    assert garbage.status_code == 400
    assert unknown.status_code == 400
    assert "does not relay" in unknown.json()["error"]
    assert too_big.status_code == 413


async def test_a_database_outage_is_answered_503_so_the_broker_retries() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()
    async with serving(make_relay(directory)) as served, client(served, token_for(facts.owner1_id)) as websocket:
        await receive(websocket)
        directory.down = True
        event = scheduled(facts)
        assert (await served.post(event)).status_code == 503
        directory.down = False
        assert (await served.post(event)).status_code == 202  # the retry goes through
        assert (await receive(websocket))["type"] == "match_created"


async def test_events_from_another_thread_reach_the_clients() -> None:
    # The local platform's broker calls the relay on its own threads.
    user = uuid.uuid4()
    relay = make_relay()
    async with serving(relay) as served, client(served, token_for(user)) as websocket:
        await receive(websocket)
        await asyncio.to_thread(relay.accept_threadsafe, build_event(user_id=user, message="from a thread"))
        assert (await receive(websocket))["payload"]["message"] == "from a thread"


async def test_health_and_a_plain_get_of_the_websocket_path() -> None:
    async with serving(make_relay()) as served, httpx.AsyncClient(timeout=WAIT) as http:
        health = await http.get(served.http_url + "/health")
        plain = await http.get(served.ws_url.replace("ws://", "http://"))

    assert health.json()["status"] == "ok"
    assert plain.status_code == 426
    assert plain.json()["code"] == "upgrade_required"


# --- owners from the database (SQLite and PostgreSQL) --------------------------------------------------------


def add_player(platform: Platform, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A user and their pong agent; (user id, agent id)."""
    user_id, agent_id = uuid.uuid4(), uuid.uuid4()
    with platform.uow() as uow:
        uow.session.add(User(id=user_id, username=name, email=f"{name}@example.com", password_hash="x"))
        uow.flush()
        uow.session.add(Agent(id=agent_id, user_id=user_id, environment_id="pong", name=f"{name}-bot"))
        uow.commit()
    return user_id, agent_id


def count_lookups(platform: Platform) -> list[str]:
    """The statements that read agents or matches from now on."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2]).lower()
        if "from matches" in statement or "from agents" in statement:
            seen.append(statement)

    sqlalchemy_event.listen(platform.engine, "before_cursor_execute", record)
    return seen


async def test_match_events_reach_the_owners_found_in_the_database(platform: Platform) -> None:
    owner1, agent1 = add_player(platform, "ada")
    owner2, agent2 = add_player(platform, "bob")
    stranger, _ = add_player(platform, "eve")
    match_id = uuid.UUID(insert_match(platform, str(agent1), str(agent2), environment="pong"))
    facts = MatchFacts(agent1, agent2, owner1, owner2, True)
    relay = make_relay(DatabaseDirectory(platform.uow))
    async with (
        serving(relay) as served,
        client(served, token_for(owner1)) as first,
        client(served, token_for(owner2)) as second,
        client(served, token_for(stranger)) as other,
    ):
        for websocket in (first, second, other):
            await receive(websocket)

        await served.post(scheduled(facts, match_id))
        await served.post(rating_updated(facts, match_id))
        await served.post(build_event(user_id=stranger, message="the stranger's own"))

        for websocket in (first, second):
            assert (await receive(websocket))["type"] == "match_created"
            completed = await receive(websocket)
            assert completed["type"] == "match_completed"
            assert completed["payload"]["agent1Id"] == str(agent1)
            assert completed["payload"]["agent2EloChange"] == -20
        assert (await receive(other))["payload"]["message"] == "the stranger's own"


async def test_the_directory_remembers_owners_and_matches_instead_of_asking_again(platform: Platform) -> None:
    owner1, agent1 = add_player(platform, "ada")
    owner2, agent2 = add_player(platform, "bob")
    match_id = uuid.UUID(insert_match(platform, str(agent1), str(agent2), environment="pong"))
    directory = DatabaseDirectory(platform.uow, cache_size=10)
    queries = count_lookups(platform)

    facts = directory.match(match_id)
    assert facts == MatchFacts(agent1, agent2, owner1, owner2, True)
    assert directory.owners([agent1, agent2]) == {agent1: owner1, agent2: owner2}
    assert directory.match(match_id) == facts
    assert len(queries) == 1  # the match's query also answered for its owners

    assert directory.match(uuid.uuid4()) is None
    assert directory.owners([uuid.uuid4()]) == {}
