"""A broker ingress stand-in on a real port: records the CloudEvents POSTed to it (binary mode, as
HttpPublisher sends them), and can play a broker that is down (503 to everything)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloudevents.http import CloudEvent, from_http


@dataclass(frozen=True)
class Received:
    event: CloudEvent
    at: float  # time.monotonic() on arrival
    note: Any  # what the sink's `on_event` said about it on arrival


class EventSink:
    def __init__(self, on_event: Callable[[CloudEvent], Any] | None = None) -> None:
        self.received: list[Received] = []
        self.refused = 0
        self.down = False
        self.on_event = on_event
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if sink.down:
                    with sink._lock:
                        sink.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                event = from_http(dict(self.headers), body)
                note = sink.on_event(event) if sink.on_event is not None else None
                with sink._lock:
                    sink.received.append(Received(event, time.monotonic(), note))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def of_match(self, match_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if (r.event.get_data() or {}).get("matchId") == match_id]

    def types_of(self, match_id: str) -> list[str]:
        return [r.event["type"] for r in self.of_match(match_id)]

    def wait_for(self, match_id: str, event_type: str, timeout: float = 60.0) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for received in self.of_match(match_id):
                if received.event["type"] == event_type:
                    return received
            time.sleep(0.02)
        raise AssertionError(f"no {event_type} for match {match_id} within {timeout} s: {self.types_of(match_id)}")


@contextmanager
def event_sink(on_event: Callable[[CloudEvent], Any] | None = None) -> Iterator[EventSink]:
    sink = EventSink(on_event)
    sink._thread.start()
    try:
        yield sink
    finally:
        sink._server.shutdown()
        sink._server.server_close()
