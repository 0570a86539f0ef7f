"""The K_SINK publisher against a real HTTP server on a real socket."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cloudevents.http import CloudEvent, from_http

from rlarena.config import Settings
from rlarena.errors import ServiceUnavailable
from rlarena.events.catalogue import EventType, MatchFailed, Source, make_event
from rlarena.events.publisher import HttpPublisher, publisher_for
from tests.support.postgres import free_port


class Sink:
    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.calls = 0


@pytest.fixture
def sink() -> Iterator[tuple[Sink, str]]:
    state = Sink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.calls += 1
            status = state.statuses.pop(0) if state.statuses else 202
            if status < 300:
                state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _event() -> CloudEvent:
    payload = MatchFailed(match_id=uuid.uuid4(), environment_id="pong", error_message="executor crashed")
    return make_event(EventType.MATCH_FAILED, Source.EXECUTOR, payload, event_id="fixed-id")


def test_events_are_posted_in_binary_mode(sink: tuple[Sink, str]) -> None:
    state, url = sink
    HttpPublisher(url).publish(_event())
    headers, body = state.received[0]
    assert headers["ce-type"] == "dev.rlarena.match.failed"
    assert headers["ce-source"] == "/rlarena/executor"
    assert headers["ce-id"] == "fixed-id"
    assert headers["content-type"] == "application/json"
    data = from_http(headers, body).get_data()
    assert isinstance(data, dict)
    assert data["errorMessage"] == "executor crashed"


def test_a_failing_sink_is_retried_then_succeeds(sink: tuple[Sink, str]) -> None:
    state, url = sink
    state.statuses = [503, 500]
    HttpPublisher(url, first_delay=0.01).publish(_event())
    assert state.calls == 3
    assert len(state.received) == 1


def test_retries_are_bounded_and_end_in_service_unavailable(sink: tuple[Sink, str]) -> None:
    state, url = sink
    state.statuses = [503] * 10
    with pytest.raises(ServiceUnavailable, match="HTTP 503"):
        HttpPublisher(url, attempts=3, first_delay=0.01).publish(_event())
    assert state.calls == 3


def test_a_4xx_from_the_sink_is_not_retried(sink: tuple[Sink, str]) -> None:
    state, url = sink
    state.statuses = [400] * 5
    with pytest.raises(ServiceUnavailable):
        HttpPublisher(url, first_delay=0.01).publish(_event())
    assert state.calls == 1


def test_an_unreachable_sink_fails_after_the_retries() -> None:
    with pytest.raises(ServiceUnavailable):
        HttpPublisher(f"http://127.0.0.1:{free_port()}/", attempts=2, first_delay=0.01, timeout=1).publish(_event())


def test_events_carry_the_broker_token_as_a_bearer_header_when_one_is_set(sink: tuple[Sink, str]) -> None:
    state, url = sink
    HttpPublisher(url, token="s3cret-token").publish(_event())
    HttpPublisher(url).publish(_event())
    (with_token, _), (without, _) = state.received
    assert with_token["authorization"] == "Bearer s3cret-token"
    assert "authorization" not in without  # on Knative: no token, no header


def test_the_publisher_for_k_sink_sends_broker_token_and_a_refusal_is_not_retried(
    sink: tuple[Sink, str], tmp_path: Path
) -> None:
    state, url = sink
    settings = Settings(K_SINK=url, BROKER_TOKEN="from-the-settings", DATA_DIR=str(tmp_path))
    publisher_for(settings).publish(_event())
    assert state.received[0][0]["authorization"] == "Bearer from-the-settings"
    state.statuses = [403] * 3  # a wrong token: the broker will never accept it
    with pytest.raises(ServiceUnavailable, match="HTTP 403"):
        HttpPublisher(url, token="wrong", first_delay=0.01).publish(_event())
    assert state.calls == 2
