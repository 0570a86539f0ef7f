"""The relay: WebSockets at /api/v1/ws, CloudEvents from the Triggers at POST /, and GET /health.

On a cluster the Triggers POST events to the relay's own Service (binary or structured mode); it
answers 202 as soon as the messages are queued. On the local platform the in-process broker calls
`on_event` on one of its threads, which hands the messages to the event loop thread-safely. Either
way one `Relay` per process holds every connection, which is why the Knative Service runs exactly
one replica (min-scale = max-scale = 1; see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cloudevents import exceptions as cloud_exceptions
from cloudevents.http import CloudEvent, from_http
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from rlarena import __version__, runtime
from rlarena.bootstrap import Platform
from rlarena.config import Settings
from rlarena.errors import (
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RLArenaError,
    ServiceUnavailable,
    Unauthenticated,
    error_body,
    http_status,
)
from rlarena.relay.auth import TokenVerifier, authenticate, token_of
from rlarena.relay.directory import DatabaseDirectory
from rlarena.relay.hub import Hub
from rlarena.relay.messages import Directory, Outbound, needs_directory, read
from rlarena.relay.protocol import UPGRADE_REQUIRED, WS_PATH, Close, ConnectionRefused, close_reason
from rlarena.relay.router import Router
from rlarena.relay.session import Session
from rlarena.relay.tickets import TICKET_PATH, TicketIssuer, ticket_answer

log = logging.getLogger(__name__)

SERVICE = "ws-relay"


@dataclass(frozen=True)
class RelayOptions:
    allow_anonymous: bool = False
    queue_size: int = 256
    max_connections: int = 10_000
    max_connections_per_user: int = 20
    max_body_bytes: int = 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> RelayOptions:
        return cls(
            allow_anonymous=settings.relay_allow_anonymous,
            queue_size=settings.relay_queue_size,
            max_connections=settings.relay_max_connections,
            max_connections_per_user=settings.relay_max_connections_per_user,
            max_body_bytes=settings.max_body_bytes,
        )


class RelayTokens(TokenVerifier, TicketIssuer, Protocol):
    """What the relay needs of the TokenService: check tokens and tickets, issue tickets."""


class Relay:
    def __init__(self, verifier: RelayTokens, directory: Directory, options: RelayOptions | None = None) -> None:
        self.options = options or RelayOptions()
        self.verifier = verifier
        self.hub = Hub(
            queue_size=self.options.queue_size,
            max_connections=self.options.max_connections,
            max_per_user=self.options.max_connections_per_user,
        )
        self.router = Router(directory)
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def for_platform(cls, platform: Platform) -> Relay:
        return cls(
            _PlatformTokens(platform), DatabaseDirectory(platform.uow), RelayOptions.from_settings(platform.settings)
        )

    def bind(self) -> None:
        """Serve from the running event loop (the hub is only ever touched there)."""
        self._loop = asyncio.get_running_loop()

    # -- WebSockets ------------------------------------------------------------------------------

    async def serve(self, websocket: WebSocket) -> None:
        """The WebSocket endpoint: authenticate, admit, then run the session until it ends."""
        self.bind()
        try:
            # In a worker thread: the verifier may ask the database whether the account still exists.
            user_id = await run_in_threadpool(
                authenticate,
                self.verifier,
                websocket.headers,
                websocket.query_params,
                allow_anonymous=self.options.allow_anonymous,
            )
        except Unauthenticated as error:
            # Accepted first, so the browser sees the close code and reason (a refused handshake is a bare 403).
            await _refuse(websocket, Close.UNAUTHENTICATED, f"{error.code}: {error.message}")
            return
        except ServiceUnavailable as error:
            await _refuse(websocket, Close.TRY_AGAIN_LATER, error.message)
            return
        try:
            client = self.hub.admit(user_id)
        except ConnectionRefused as refusal:
            await _refuse(websocket, refusal.close_code, refusal.message)
            return
        try:
            await websocket.accept()
        except BaseException:
            self.hub.remove(client)
            raise
        await Session(websocket, self.hub, client).run()

    async def issue_ticket(self, request: Request) -> JSONResponse:
        """POST /api/v1/ws/ticket with a bearer token: 201 {ticket, expiresAt} (rlarena.relay.tickets)."""
        try:
            token = token_of(request.headers, {})
            if token is None:
                raise Unauthenticated("authentication required: send 'Authorization: Bearer <token>'")
            user_id = await run_in_threadpool(self.verifier.verify, token)
        except RLArenaError as error:
            return _error(error)
        return JSONResponse(ticket_answer(self.verifier, user_id), 201)

    # -- events ----------------------------------------------------------------------------------

    async def receive_event(self, request: Request) -> Response:
        """POST / from a Trigger: 202 at once, 400 for what can never be relayed, 503 to be retried."""
        self.bind()
        try:
            body = await _body(request, self.options.max_body_bytes)
            event = from_http(dict(request.headers), body)
        except RLArenaError as error:
            return _error(error)
        except (cloud_exceptions.GenericException, ValueError) as error:
            return _error(InvalidInput(f"not a CloudEvent: {type(error).__name__}"))
        try:
            payload = read(event)  # an event the relay can never use is refused even when nobody is listening
        except RLArenaError as error:
            return _error(error)
        if not self.hub.connections:
            return Response(status_code=202)  # nobody is listening
        try:
            if needs_directory(payload):  # it may query the database: not on the event loop
                messages = await run_in_threadpool(self.router.route, event)
            else:
                messages = self.router.route(event)
        except RLArenaError as error:
            log.warning("event %s %s: %s", event["type"], event["id"], error.message)
            return _error(error)
        # Answered before the fan-out, which then runs in this same task: the broker is not kept waiting.
        return Response(status_code=202, background=BackgroundTask(self._publish_now, messages))

    def accept_threadsafe(self, event: CloudEvent) -> None:
        """From another thread (the local broker's): route there, publish on the loop. Raising asks for a retry."""
        loop = self._loop
        if loop is None or loop.is_closed() or not self.hub.connections:
            return  # not serving, or nobody is listening
        messages = self.router.route(event)
        if messages:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the process is stopping
                loop.call_soon_threadsafe(self.publish, messages)

    def publish(self, messages: Sequence[Outbound]) -> int:
        return sum(self.hub.publish(message) for message in messages)

    async def _publish_now(self, messages: Sequence[Outbound]) -> None:
        self.publish(messages)  # async only so that Starlette runs it on the loop, not in a thread


class _PlatformTokens:
    """The platform's TokenService, looked up at the first handshake rather than at start-up."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def verify(self, token: str) -> uuid.UUID:
        """The token's user, if the account still exists (as the HTTP functions check)."""
        user_id = self._platform.tokens.verify(token)
        with self._platform.uow() as uow:
            if uow.users.get(user_id) is None:
                raise Unauthenticated("this account no longer exists; sign up again", code="unknown_user")
        return user_id

    def verify_ticket(self, ticket: str) -> uuid.UUID:
        user_id = self._platform.tokens.verify_ticket(ticket)
        with self._platform.uow() as uow:
            if uow.users.get(user_id) is None:
                raise Unauthenticated("this account no longer exists; sign up again", code="unknown_user")
        return user_id

    def issue_ticket(self, user_id: uuid.UUID, now: datetime) -> tuple[str, datetime]:
        return self._platform.tokens.issue_ticket(user_id, now)


async def _refuse(websocket: WebSocket, code: Close, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, close_reason(reason))


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error(error: RLArenaError) -> JSONResponse:
    return JSONResponse(error_body(error), http_status(error))


def websocket_route(relay: Relay) -> WebSocketRoute:
    """The relay's WebSocket route alone, for an app that serves the rest itself (the local platform)."""
    return WebSocketRoute(WS_PATH, relay.serve)


def create_app(relay: Relay) -> Starlette:
    async def health(_request: Request) -> JSONResponse:
        return JSONResponse(
            {"status": "ok", "service": SERVICE, "version": __version__, "connections": relay.hub.connections}
        )

    async def upgrade_required(_request: Request) -> JSONResponse:
        return JSONResponse(UPGRADE_REQUIRED, 426, headers={"Upgrade": "websocket"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        relay.bind()
        yield

    async def refused(request: Request, error: Exception) -> Response:
        """What routing refuses (no route, a method the route does not take) is the JSON error body."""
        status = getattr(error, "status_code", 500)
        if status == 405:
            response = _error(MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}"))
            response.headers["Allow"] = dict(getattr(error, "headers", None) or {}).get("Allow", "")
            return response
        if status == 404:
            return _error(NotFound(f"no route for {request.method} {request.url.path}"))
        return JSONResponse({"error": str(getattr(error, "detail", "")) or "error", "code": "http_error"}, status)

    routes = [
        websocket_route(relay),
        Route(WS_PATH, upgrade_required, methods=["GET"]),
        Route(TICKET_PATH, relay.issue_ticket, methods=["POST"]),
        Route("/", relay.receive_event, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: refused})


# -- the process's relay -------------------------------------------------------------------------

_lock = threading.Lock()
_relay: Relay | None = None


def current() -> Relay:
    """This process's relay, built on first use from the process's Platform."""
    global _relay  # noqa: PLW0603 - the one per-process instance, guarded by the lock
    with _lock:
        if _relay is None:
            _relay = Relay.for_platform(runtime.platform())
        return _relay


def on_event(event: CloudEvent) -> None:
    """Knative Service `ws-relay` on the local platform: the in-process broker's subscriber."""
    relay = _relay
    if relay is not None:  # no relay in this process, so nobody to tell
        relay.accept_threadsafe(event)
