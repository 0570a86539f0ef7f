"""Every error of the local gateway is the JSON error body with CORS, over a real socket.

Unknown methods (TRACE, PROPFIND, ...) used to get Flask's HTML 405 and a path with an encoded
line feed Flask's HTML 404 (or Starlette's text/plain one); clients and the frontend parse
`{"error", "code"}` whatever went wrong.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.running_platform import RunningPlatform

ORIGIN = "http://localhost:3000"  # allowed by the development settings


@dataclass
class Raw:
    status: int
    content_type: str
    allow_origin: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(platform: RunningPlatform, method: str, path: str) -> Raw:
    """The request line exactly as given: no quoting, any method."""
    address = urlsplit(platform.base_url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("Origin", ORIGIN)
        connection.endheaders()
        reply = connection.getresponse()
        return Raw(
            reply.status,
            reply.getheader("Content-Type", ""),
            reply.getheader("Access-Control-Allow-Origin"),
            reply.read(),
        )
    finally:
        connection.close()


def assert_json_error(reply: Raw, status: int, code: str) -> None:
    assert (reply.status, reply.content_type) == (status, "application/json"), reply
    body = reply.json()
    assert body["code"] == code and isinstance(body["error"], str) and body["error"], body
    assert reply.allow_origin == ORIGIN, "errors carry CORS like every other answer"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("TRACE", "/api/v1/agents"),
        ("PROPFIND", "/api/v1/agents"),
        ("MKCOL", "/api/v1/submissions"),
        ("BREW", "/api/v1/ws"),
        ("TRACE", "/api/v1/auth/login"),
    ],
)
def test_unknown_methods_on_served_paths_are_json_405(local_platform: RunningPlatform, method: str, path: str) -> None:
    reply = send(local_platform, method, path)
    assert_json_error(reply, 405, "method_not_allowed")
    assert method in reply.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/agents%0A"),
        ("GET", "/api/v1/agents%0D%0A"),
        ("POST", "/api/v1/agents%0a"),
        ("GET", "/%0A"),
        ("GET", "/broker/rlarena/default%0A"),
        ("GET", "/api/v1/ws%0A"),
        ("GET", "/api/v1/agents%00"),
        ("GET", "/api/v1/agents/%2e%2e/%2e%2e/etc/passwd"),
        ("GET", "/robots.txt"),
        ("GET", "/favicon.ico"),
        ("TRACE", "/"),
        ("PROPFIND", "/nowhere"),
    ],
)
def test_odd_paths_are_json_404(local_platform: RunningPlatform, method: str, path: str) -> None:
    assert_json_error(send(local_platform, method, path), 404, "not_found")


def test_the_broker_ingress_answers_unknown_methods_in_json(local_platform: RunningPlatform) -> None:
    reply = send(local_platform, "TRACE", "/broker/rlarena/default")
    assert (reply.status, reply.content_type) == (405, "application/json")
    assert reply.json()["code"] == "method_not_allowed"


def test_a_line_feed_inside_a_path_is_json_404(local_platform: RunningPlatform) -> None:
    assert_json_error(send(local_platform, "GET", "/api/v1/agents%0A/x"), 404, "not_found")
