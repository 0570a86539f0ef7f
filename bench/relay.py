"""The WebSocket relay: connections one process holds, memory per connection, fan-out latency (issue 7).

The relay runs as its container does (`python -m rlarena.relay`, ENV=production, uvicorn with
protocol pings every 20 s), alone in its process. The clients live in this process: each is an
asyncio Protocol driving `websockets`' sans-I/O client (so thousands cost little here), with its
own user's token in the Authorization header, subscribed to `leaderboard:pong`.

1. Connections: the relay's resident memory (VmRSS) before and after N clients connected and
   subscribed; the difference over N is the memory per connection. One event then fans out to all.
2. Fan-out: a fresh relay with M subscribed clients; E events, one at a time, each POSTed in binary
   mode to the relay's Trigger endpoint over a kept-alive HTTP connection. Latency runs from just
   before the POST is written to the moment the last client's socket delivered the message (the
   time is taken when the bytes reach the client, before parsing them).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloudevents.conversion import to_binary
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from bench.support import (
    HOST,
    PYTHON,
    BenchError,
    Probe,
    ServerProcess,
    base_environment,
    cpu_seconds,
    first_ok,
    free_port,
    percentile,
    strong_secret,
    table,
)
from rlarena.adapters.tokens import TokenService
from rlarena.events.catalogue import BuildSucceeded, EventType, Source, make_event

CHANNEL = "leaderboard:pong"
MARKER = b'"leaderboard_update"'
GOAL_CONNECTIONS = 5000
GOAL_BYTES_PER_CONNECTION = 100 * 1024
GOAL_P99_MS = 100.0
CONNECT_BATCH = 100
TIMEOUT = 60.0

Log = Callable[[str], None]


class BenchClient(asyncio.Protocol):
    """One WebSocket client: handshake, then `on_text(client, arrived_at, text)` for each text frame.

    During a measured round (`deferred` is a list) it only stamps the arrival of the event's bytes
    and keeps them; they are parsed after the round, so a thousand clients' parsing in this process
    does not delay the stamps of the last ones.
    """

    def __init__(self, port: int, token: str, on_text: Callable[[BenchClient, float, str], None]) -> None:
        self.protocol = ClientProtocol(parse_uri(f"ws://{HOST}:{port}/api/v1/ws"))
        self.request = self.protocol.connect()
        self.request.headers["Authorization"] = f"Bearer {token}"
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.deferred: list[bytes] | None = None
        self.on_arrival: Callable[[float], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.protocol.send_request(self.request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        if self.deferred is not None:
            if self.on_arrival is not None and MARKER in data:
                self.on_arrival(arrived)
                self.on_arrival = None
            self.deferred.append(data)
            return
        self._parse(data, arrived)

    def catch_up(self) -> None:
        """Parse what arrived during the round (answering any ping in it)."""
        deferred, self.deferred = self.deferred or [], None
        for data in deferred:
            self._parse(data, time.perf_counter())

    def _parse(self, data: bytes, arrived: float) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response) and event.status_code != 101 and not self.ready.done():
                self.ready.set_exception(BenchError(f"handshake answered {event.status_code}"))
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.on_text(self, arrived, bytes(event.data).decode())
            elif isinstance(event, Frame) and event.opcode is Opcode.CLOSE and not self.ready.done():
                self.ready.set_exception(BenchError(f"closed by the relay: {self.protocol.close_rcvd}"))
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(BenchError(f"connection lost: {exc}"))

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _flush(self) -> None:
        if self.transport is None:
            return
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)


class Fleet:
    """Many subscribed clients and, per published event, when each one received it."""

    def __init__(self) -> None:
        self.clients: list[BenchClient] = []
        self.arrivals: list[float] = []
        self.expected = 0
        self.all_arrived: asyncio.Future[None] | None = None

    def on_text(self, client: BenchClient, arrived: float, text: str) -> None:
        if not client.ready.done():
            if '"subscribed"' in text:
                client.ready.set_result(None)
            elif '"connected"' in text:
                client.send_text(f'{{"type":"subscribe","channel":"{CHANNEL}"}}')
            return

    def _arrived(self, arrived: float) -> None:
        self.arrivals.append(arrived)
        if len(self.arrivals) == self.expected and self.all_arrived is not None and not self.all_arrived.done():
            self.all_arrived.set_result(None)

    async def connect(self, port: int, tokens: list[str]) -> None:
        loop = asyncio.get_running_loop()
        for start in range(0, len(tokens), CONNECT_BATCH):
            batch = [BenchClient(port, token, self.on_text) for token in tokens[start : start + CONNECT_BATCH]]
            for client in batch:
                await loop.create_connection(lambda client=client: client, HOST, port)  # type: ignore[misc]
            await asyncio.wait_for(asyncio.gather(*(client.ready for client in batch)), TIMEOUT)
            self.clients.extend(batch)

    async def fan_out(self, poster: Poster, event_body: tuple[dict[str, str], bytes]) -> dict[str, float]:
        """Publish one event; milliseconds to the first and the last client, and for the POST's answer."""
        self.arrivals = []
        self.expected = len(self.clients)
        self.all_arrived = asyncio.get_running_loop().create_future()
        for client in self.clients:
            client.deferred = []
            client.on_arrival = self._arrived
        started = time.perf_counter()
        answered = await poster.post(*event_body) - started
        await asyncio.wait_for(self.all_arrived, TIMEOUT)
        for client in self.clients:
            client.catch_up()
        return {
            "first_ms": (min(self.arrivals) - started) * 1000,
            "last_ms": (max(self.arrivals) - started) * 1000,
            "answer_ms": answered * 1000,
        }

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.clients = []


class Poster:
    """POSTs CloudEvents to the relay over one kept-alive HTTP/1.1 connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, headers: dict[str, str], body: bytes) -> float:
        """Send one event; the perf_counter time its 202 arrived."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        lines = ["POST / HTTP/1.1", f"Host: {HOST}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        answered = time.perf_counter()
        status = head.split(b" ", 2)[1]
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        if length:
            await self.reader.readexactly(length)
        if status != b"202":
            raise BenchError(f"the relay answered {status.decode()} to an event")
        return answered

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def leaderboard_event() -> tuple[dict[str, str], bytes]:
    """A build that made a version active: a leaderboard_update on leaderboard:pong (no database lookup)."""
    payload = BuildSucceeded(
        submission_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        version=1,
        status="active",
        message="version 1 is active",
        environment_id="pong",
        image_url=None,
    )
    headers, body = to_binary(make_event(EventType.BUILD_SUCCEEDED, Source.BUILDER, payload))
    return dict(headers), body


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for process {pid}")


class RelayProcess:
    def __init__(self, data_dir: Path, secret: str) -> None:
        self.port = free_port()
        env = base_environment(
            ENV="production",
            JWT_SECRET=secret,
            DATABASE_URL=f"sqlite:///{data_dir / 'relay.db'}",
            DATA_DIR=str(data_dir),
            PORT=str(self.port),
            RELAY_MAX_CONNECTIONS="20000",
            LOG_LEVEL="WARNING",
        )
        self.log_path = data_dir / f"relay-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.server = ServerProcess([str(PYTHON), "-m", "rlarena.relay"], env, log=self._log)
        first_ok(self.server, self.port, Probe("GET", "/health"))

    @property
    def pid(self) -> int:
        return self.server.process.pid

    def stop(self) -> None:
        self.server.stop()
        self._log.close()


def _tokens(secret: str, count: int) -> list[str]:
    service = TokenService(secret, timedelta(hours=2))
    now = datetime.now(UTC)
    return [service.issue(uuid.uuid4(), f"bench-{i}", now) for i in range(count)]


async def _connections_phase(relay: RelayProcess, tokens: list[str], log: Log) -> dict[str, Any]:
    fleet = Fleet()
    # Warm the relay (imports, first handshake, first event) before the baseline is read.
    await fleet.connect(relay.port, tokens[:1])
    warm_up = Poster(relay.port)
    await fleet.fan_out(warm_up, leaderboard_event())
    warm_up.close()
    fleet.close()
    await asyncio.sleep(0.5)
    before = rss_bytes(relay.pid)
    started = time.perf_counter()
    log(f"relay: opening {len(tokens)} connections")
    await fleet.connect(relay.port, tokens)
    connect_s = time.perf_counter() - started
    await asyncio.sleep(1.0)
    after = rss_bytes(relay.pid)
    held = len(fleet.clients)
    log(f"relay: {len(fleet.clients)} connected and subscribed in {connect_s:.1f} s; one event to all of them")
    poster = Poster(relay.port)  # a fresh one: uvicorn closes HTTP connections idle for 5 s
    everyone = await fleet.fan_out(poster, leaderboard_event())
    poster.close()
    fleet.close()
    return {
        "connections": held,
        "connect_s": connect_s,
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "bytes_per_connection": (after - before) / len(tokens),
        "fan_out_to_all": everyone,
    }


async def _fan_out_phase(relay: RelayProcess, tokens: list[str], events: int, log: Log) -> dict[str, Any]:
    fleet = Fleet()
    await fleet.connect(relay.port, tokens)
    poster = Poster(relay.port)
    for _ in range(5):  # warm-up rounds, not counted
        await fleet.fan_out(poster, leaderboard_event())
    log(f"relay: {events} events, each to {len(tokens)} subscribers")
    cpu_before = cpu_seconds([relay.pid])
    rounds = []
    for _ in range(events):
        rounds.append(await fleet.fan_out(poster, leaderboard_event()))
        await asyncio.sleep(0.005)
    cpu = cpu_seconds([relay.pid]) - cpu_before
    poster.close()
    fleet.close()
    last = sorted(r["last_ms"] for r in rounds)
    first = sorted(r["first_ms"] for r in rounds)
    answer = sorted(r["answer_ms"] for r in rounds)
    return {
        "subscribers": len(tokens),
        "events": events,
        "last_ms": {
            "p50": percentile(last, 0.5),
            "p90": percentile(last, 0.9),
            "p99": percentile(last, 0.99),
            "max": last[-1],
        },
        "first_ms": {"p50": percentile(first, 0.5), "p99": percentile(first, 0.99)},
        "answer_ms": {"p50": percentile(answer, 0.5), "p99": percentile(answer, 0.99)},
        "relay_cpu_ms_per_event": cpu / events * 1000,
    }


def run(*, connections: int = GOAL_CONNECTIONS, subscribers: int = 1000, events: int = 300, log: Log) -> dict[str, Any]:
    secret = strong_secret()
    tokens = _tokens(secret, max(connections, subscribers))
    with tempfile.TemporaryDirectory(prefix="rlarena-bench-relay-") as folder:
        data_dir = Path(folder)
        relay = RelayProcess(data_dir, secret)
        try:
            held = asyncio.run(_connections_phase(relay, tokens[:connections], log))
        finally:
            relay.stop()
        relay = RelayProcess(data_dir, secret)
        try:
            fan_out = asyncio.run(_fan_out_phase(relay, tokens[:subscribers], events, log))
        finally:
            relay.stop()
    return {"held": held, "fan_out": fan_out}


def report(results: dict[str, Any]) -> str:
    held, fan_out = results["held"], results["fan_out"]
    memory = table(
        ["connections", "connect s", "RSS before MB", "RSS after MB", "KB per connection", "one event to all: last ms"],
        [
            [
                held["connections"],
                held["connect_s"],
                held["rss_before_mb"],
                held["rss_after_mb"],
                held["bytes_per_connection"] / 1024,
                held["fan_out_to_all"]["last_ms"],
            ]
        ],
    )
    last = fan_out["last_ms"]
    latency = table(
        [
            "subscribers",
            "events",
            "last p50 ms",
            "last p90 ms",
            "last p99 ms",
            "last max ms",
            "first p50 ms",
            "202 p50 ms",
            "relay CPU ms/event",
        ],
        [
            [
                fan_out["subscribers"],
                fan_out["events"],
                last["p50"],
                last["p90"],
                last["p99"],
                last["max"],
                fan_out["first_ms"]["p50"],
                fan_out["answer_ms"]["p50"],
                fan_out["relay_cpu_ms_per_event"],
            ]
        ],
    )
    return (
        "WebSocket relay (python -m rlarena.relay, one process)\n"
        f"Connections held (goal: {GOAL_CONNECTIONS} under {GOAL_BYTES_PER_CONNECTION // 1024} KB each):\n{memory}\n\n"
        f"Fan-out, CloudEvent POSTed to the last subscriber receiving it (goal: p99 under {GOAL_P99_MS:.0f} ms):\n"
        f"{latency}"
    )


def problems(results: dict[str, Any]) -> list[str]:
    held, fan_out = results["held"], results["fan_out"]
    found = []
    if held["connections"] < GOAL_CONNECTIONS:
        found.append(f"relay held {held['connections']} connections, goal {GOAL_CONNECTIONS}")
    if held["bytes_per_connection"] > GOAL_BYTES_PER_CONNECTION:
        found.append(f"relay used {held['bytes_per_connection'] / 1024:.0f} KB per connection, goal under 100 KB")
    if fan_out["last_ms"]["p99"] > GOAL_P99_MS:
        found.append(f"relay fan-out p99 {fan_out['last_ms']['p99']:.0f} ms, goal under {GOAL_P99_MS:.0f} ms")
    return found
