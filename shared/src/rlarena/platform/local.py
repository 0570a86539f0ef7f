"""The whole platform in one process on one port: what `make dev` runs.

Requests are routed by the HTTPRoute manifest, events by the Trigger manifests through the
in-process broker, and the PingSource schedule drives a timer, so the local platform and the
cluster share one source of truth. Only the adapters differ (SQLite, a local folder).

Agents run on this same host, so the platform keeps its files private (DATA_DIR 0700, every file
0600: `rlarena.private_files`) and its broker ingress, on the public port, takes events only with
the broker token (`rlarena.events.ingress`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import flask
from a2wsgi import WSGIMiddleware
from cloudevents import exceptions as cloud_exceptions
from cloudevents.http import from_http
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.types import ASGIApp

from rlarena import runtime
from rlarena.adapters.db.migrate import upgrade_to_head
from rlarena.bootstrap import Platform, bootstrap
from rlarena.config import Settings
from rlarena.errors import ConfigurationError, InvalidInput, MethodNotAllowed, NotFound, RLArenaError
from rlarena.events.ingress import check_ingress_token
from rlarena.http.api import apply_cors, error_response, read_body
from rlarena.http.request_log import log_request
from rlarena.platform import targets
from rlarena.platform.broker import InProcessBroker
from rlarena.platform.executor_child import ExecutorChild
from rlarena.platform.manifests import RouteTable, Trigger, load_documents, ping_sources, route_table, triggers
from rlarena.platform.outbox_pump import OutboxPump
from rlarena.platform.ping import PingTimer
from rlarena.private_files import SANDBOX_OWNED, create_private_file, ensure_private_dir, tighten_tree

log = logging.getLogger("rlarena.local")

# Where the in-process broker accepts events from other processes (the executor, scripts):
# point K_SINK at http://localhost:8080/broker/rlarena/default and set BROKER_TOKEN to the
# platform's broker token (DATA_DIR/broker-token); events without it are refused (401/403).
BROKER_INGRESS_PATH = "/broker/rlarena/default"


@dataclass
class LocalPlatform:
    platform: Platform
    broker: InProcessBroker
    timer: PingTimer
    routes: RouteTable
    services: dict[str, targets.HttpTarget]
    broker_triggers: list[Trigger]
    ingress_token: str
    outbox: OutboxPump
    executor: ExecutorChild | None = None

    def gateway(self) -> flask.Flask:
        """A WSGI app that forwards each request to the function the HTTPRoute names.

        Every method reaches the functions (TRACE or PROPFIND get their JSON 405), and whatever
        Flask refuses itself (a path its rules cannot match, such as one with an encoded newline,
        or an error that escaped a view) is the JSON error body with CORS, never Flask's HTML.
        """
        from werkzeug.exceptions import HTTPException
        from werkzeug.routing import Rule

        from rlarena.http.api import http_exception_response

        app = flask.Flask("rlarena-local")

        def forward(path: str) -> flask.Response:
            request = flask.request._get_current_object()  # type: ignore[attr-defined]
            if request.path == BROKER_INGRESS_PATH:
                return self._ingress(request)
            backend = self.routes.resolve(request.path)
            api = self.services.get(backend) if backend else None
            if api is not None:
                return api.handle(request)
            response = error_response(NotFound(f"no route for {request.method} {request.path}"))
            apply_cors(request, response, self.platform.settings.cors_allowed_origins)
            log_request(request, response.status_code, 0.0, "gateway")
            return response

        def refused(error: HTTPException) -> flask.Response:
            request = flask.request._get_current_object()  # type: ignore[attr-defined]
            return http_exception_response(request, error, self.platform.settings.cors_allowed_origins, "gateway")

        # Rules without methods take every method (as functions-framework's do); app.route cannot.
        app.url_map.add(Rule("/", defaults={"path": ""}, endpoint="forward"))
        app.url_map.add(Rule("/<path:path>", endpoint="forward"))
        app.view_functions["forward"] = forward
        app.register_error_handler(HTTPException, refused)
        return app

    def _ingress(self, request: flask.Request) -> flask.Response:
        """The Broker's ingress (what K_SINK points at on a cluster): binary or structured events."""
        started = time.perf_counter()
        if request.method != "POST":
            response = error_response(MethodNotAllowed("POST CloudEvents to the broker ingress"))
        else:
            try:
                # Before the body is even read: only the platform's own publishers hold the token.
                check_ingress_token(request.headers.get("Authorization"), self.ingress_token)
                body = read_body(request, self.platform.settings.max_body_bytes)
                event = from_http(dict(request.headers), body)
            except RLArenaError as error:
                response = error_response(error)
                if response.status_code in (401, 403):
                    response.headers["WWW-Authenticate"] = 'Bearer realm="rlarena-broker"'
                    log.warning(
                        "refused an event at the broker ingress from %s: %s", request.remote_addr, error.message
                    )
            except (cloud_exceptions.GenericException, ValueError) as error:
                response = error_response(InvalidInput(f"not a CloudEvent: {type(error).__name__}"))
            else:
                self.broker.publish(event)
                response = flask.Response(status=202)
        log_request(request, response.status_code, time.perf_counter() - started, "broker")
        return response

    def start(self) -> None:
        log.info(
            "routing %s by the HTTPRoute; %d Trigger(s) on the in-process broker",
            ", ".join(sorted(self.services)),
            len(self.broker_triggers),
        )
        self.outbox.start()
        if self.executor is not None:
            self.executor.start()
            # Matches left open by an earlier run on this data (a crash, a kill): their executor is
            # gone. Before the first tick, so nothing booked by this run is among them.
            _fail_lost_matches(self.platform)
        _seed_house_agents(self.platform)
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        if self.executor is not None:
            self.executor.stop()
        self.outbox.stop()
        self.broker.close()
        runtime.install(None)


def build(settings: Settings, *, port: int | None = None) -> LocalPlatform:
    """Migrate, wire the broker and timer from the manifests, and install the shared Platform.

    Given the port it will serve on, it also runs the executor as a child process (LOCAL_EXECUTOR)
    that reports to this port's broker ingress.
    """
    secure_data_dir(settings)
    documents = load_documents(settings.resolved_knative_dir)
    routes = route_table(documents)
    services = targets.http_services()
    missing = sorted(routes.backends() - services.keys())
    if missing:
        raise ConfigurationError(f"the HTTPRoute names services with no local target: {', '.join(missing)}")
    subscribers = targets.event_services()
    subscriptions = triggers(documents)
    broker = InProcessBroker(
        subscriptions,
        subscribers,
        dead_letter_path=settings.data_dir / "dead-letters.jsonl",
        faults=random.Random() if settings.local_broker_faults == "duplicate-shuffle" else None,  # noqa: S311
    )
    platform = bootstrap(settings, publisher=broker)
    upgrade_to_head(platform.engine)
    runtime.install(platform)
    timer = PingTimer(ping_sources(documents), broker.publish, interval_override=settings.ping_interval_override)
    executor = None
    if settings.local_executor and port is not None:
        executor = ExecutorChild(
            settings.executor_url,
            f"http://127.0.0.1:{port}{BROKER_INGRESS_PATH}",
            on_restart=functools.partial(_fail_lost_matches, platform),
            broker_token=settings.broker_ingress_token,
            shutdown_grace_s=settings.executor_shutdown_grace_seconds,
        )
    return LocalPlatform(
        platform=platform,
        broker=broker,
        timer=timer,
        routes=routes,
        services=services,
        broker_triggers=subscriptions,
        ingress_token=settings.broker_ingress_token,
        outbox=OutboxPump(platform.outbox),
        executor=executor,
    )


def secure_data_dir(settings: Settings) -> None:
    """Make the platform's files private before anything is written: DATA_DIR 0700, files 0600.

    Tightens what older versions left readable (walked without following links; the folders the
    sandbox owns, `SANDBOX_OWNED`, keep the modes their owner gives them), creates the SQLite
    database 0600 before SQLite does (its -wal and -shm take the database's mode), generates the
    secrets, and makes a local object store outside DATA_DIR private too.
    """
    data_dir = ensure_private_dir(settings.data_dir)
    widened = tighten_tree(data_dir, skip=SANDBOX_OWNED)
    if widened:
        log.warning("made %d file(s) and folder(s) under %s private to this user", len(widened), data_dir)
    if not settings.s3_endpoint:
        storage = settings.resolved_storage_path
        if not storage.is_relative_to(data_dir.resolve()):
            tighten_tree(ensure_private_dir(storage), skip=())
    database = make_url(settings.resolved_database_url)
    if database.drivername.startswith("sqlite") and database.database not in (None, "", ":memory:"):
        create_private_file(Path(database.database))
    settings.jwt_signing_key  # noqa: B018 - generated now, into the private folder
    settings.broker_ingress_token  # noqa: B018


def _fail_lost_matches(platform: Platform) -> None:
    """The executor is gone: end its open matches from their stored results, fail the rest."""
    from rlarena.service.match_lifecycle import fail_lost_matches
    from rlarena.service.match_reconciler import complete_stored_results

    now = platform.clock()
    completed = complete_stored_results(platform, booked_before=now)
    lost = fail_lost_matches(platform, now, "the executor stopped while this match was open")
    if completed:
        log.warning("ended %d match(es) the stopped executor had finished, from their stored results", completed)
    if lost:
        log.warning("failed %d match(es) the stopped executor was running; their agents are queued again", lost)


def _seed_house_agents(platform: Platform) -> None:
    """The house agents on every ladder from the start (then on every tick: rlarena.service.house_agents)."""
    from rlarena.service.house_agents import seed

    seed(platform)


def asgi_app(local: LocalPlatform) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        local.start()
        try:
            yield
        finally:
            local.stop()

    from rlarena.relay.app import current, websocket_route

    # WebSocket routes (the relay) are the only routes; everything else, a plain GET of the relay's
    # path included (its ws-relay target answers 426), goes to the gateway.
    gateway = cast(ASGIApp, WSGIMiddleware(local.gateway().wsgi_app, workers=8))  # type: ignore[arg-type]
    app = Starlette(routes=[websocket_route(current())], lifespan=lifespan)
    # Whatever no route takes goes to the gateway, whatever its path: a Mount's pattern cannot
    # match a line feed inside a path, and Starlette would answer its own text/plain 404.
    app.router.default = gateway
    return app
