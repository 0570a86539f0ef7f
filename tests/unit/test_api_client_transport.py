"""The generated client over real HTTP (a recording server on a socket): what each method sends
(method, path, query, bearer token, JSON, multipart, raw bytes), what it returns, and the one error
it raises (status, code, message, details, Retry-After) for an error answer or an unreachable server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from types import ModuleType
from typing import Any

import pytest
from werkzeug.formparser import parse_form_data

from rlarena.api_client.transport import Upload, path_segment
from rlarena.errors import ApiError, RLArenaError
from tests.support.openapi_fixture import DOCUMENT, generated_module


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)
    answer: Answer = field(default_factory=Answer)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server("")

    class Recorder(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.answer.status)
            self.send_header("Content-Type", state.answer.content_type)
            self.send_header("Content-Length", str(len(state.answer.body)))
            for name, value in state.answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(state.answer.body)

        def do_GET(self) -> None:
            self._any()

        def do_POST(self) -> None:
            self._any()

        def do_PUT(self) -> None:
            self._any()

        def do_DELETE(self) -> None:
            self._any()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"  # a trailing slash the client drops
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return generated_module(DOCUMENT, tmp_path_factory.mktemp("generated"), "transport_fixture_api")


def test_a_get_sends_the_query_it_was_given_and_the_token_and_returns_the_answer(
    server: Server, api: ModuleType
) -> None:
    server.answer = Answer(body=b'{"agents": [], "total": 0}')
    client = api.ArenaApi(server.url, token="secret-token")
    assert client.list_agents(page=2, environment_id="tic-tac-toe") == {"agents": [], "total": 0}
    (seen,) = server.seen
    assert (seen.method, seen.path) == ("GET", "/api/v1/agents?page=2&environmentId=tic-tac-toe")
    assert seen.headers["authorization"] == "Bearer secret-token"


def test_without_a_token_no_authorization_header_is_sent(server: Server, api: ModuleType) -> None:
    api.ArenaApi(server.url).list_agents()
    assert server.seen[0].path == "/api/v1/agents"
    assert "authorization" not in server.seen[0].headers


def test_path_parameters_are_quoted_so_they_cannot_change_the_route(server: Server, api: ModuleType) -> None:
    api.ArenaApi(server.url).get_agent("../users/me?x=1#y")
    assert server.seen[0].path == "/api/v1/agents/..%2Fusers%2Fme%3Fx%3D1%23y"
    assert path_segment(True) == "true"


def test_a_json_body_is_sent_as_json(server: Server, api: ModuleType) -> None:
    server.answer = Answer(201, b'{"agent": {"id": "a"}}')
    answer = api.ArenaApi(server.url, "t").create_agent({"name": "bot", "environmentId": "pong"})
    assert answer == {"agent": {"id": "a"}}
    (seen,) = server.seen
    assert seen.method == "POST" and seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == {"name": "bot", "environmentId": "pong"}


def test_a_multipart_upload_carries_the_fields_and_the_file(server: Server, api: ModuleType) -> None:
    server.answer = Answer(201, b'{"submission": {"id": "s", "version": 3}}')
    data = b"def agent(o, c):\r\n    return 0\r\n--not-a-boundary\r\n\x00\xff"
    answer = api.ArenaApi(server.url, "t").create_submission_upload(agent_id="a-1", file=Upload('my"agent.py', data))
    assert answer["submission"]["version"] == 3
    (seen,) = server.seen
    environ = {
        "wsgi.input": BytesIO(seen.body),
        "CONTENT_LENGTH": str(len(seen.body)),
        "CONTENT_TYPE": seen.headers["content-type"],
        "REQUEST_METHOD": "POST",
    }
    _, form, files = parse_form_data(environ)
    assert form.to_dict() == {"agentId": "a-1"}
    assert files["file"].filename == "my_agent.py"  # a quote cannot break out of the header
    assert files["file"].read() == data


def test_raw_bytes_go_with_their_content_type_and_raw_answers_come_back_as_bytes(
    server: Server, api: ModuleType
) -> None:
    client = api.ArenaApi(server.url, "t")
    client.upload_code("s-1", b"PK\x03\x04 zip bytes")
    assert server.seen[0].method == "PUT"
    assert server.seen[0].headers["content-type"] == "application/octet-stream"
    assert server.seen[0].body == b"PK\x03\x04 zip bytes"
    server.answer = Answer(body=b"<!doctype html><p>replay", content_type="text/html")
    assert client.get_replay("m-1", format="html") == b"<!doctype html><p>replay"
    assert server.seen[1].path == "/api/v1/matches/m-1/replay?format=html"


def test_an_empty_answer_is_none(server: Server, api: ModuleType) -> None:
    server.answer = Answer(204, b"")
    assert api.ArenaApi(server.url, "t").delete_agent("a-1") is None
    assert server.seen[0].method == "DELETE"


def test_an_error_answer_raises_api_error_with_status_code_message_details_and_retry_after(
    server: Server, api: ModuleType
) -> None:
    body = {"error": "too many attempts", "code": "rate_limited", "details": {"retryAfterSeconds": 42}}
    server.answer = Answer(429, json.dumps(body).encode(), headers={"Retry-After": "42"})
    with pytest.raises(ApiError) as raised:
        api.ArenaApi(server.url).create_agent({"name": "x", "environmentId": "pong"})
    error = raised.value
    assert isinstance(error, RLArenaError)
    assert (error.status, error.code, error.message) == (429, "rate_limited", "too many attempts")
    assert error.details == {"retryAfterSeconds": 42}
    assert error.retry_after_seconds == 42.0


def test_a_non_json_error_answer_still_says_its_status_and_how_it_began(server: Server, api: ModuleType) -> None:
    server.answer = Answer(502, b"<html>Bad Gateway</html>", content_type="text/html")
    with pytest.raises(ApiError) as raised:
        api.ArenaApi(server.url).get_agent("a")
    assert raised.value.status == 502
    assert raised.value.message == "HTTP 502: <html>Bad Gateway</html>"
    assert raised.value.retry_after_seconds is None


def test_an_unreachable_platform_is_status_0_saying_so(api: ModuleType) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ApiError) as raised:
        api.ArenaApi(f"http://127.0.0.1:{port}").list_agents()
    assert raised.value.status == 0
    assert raised.value.message.startswith(f"cannot reach http://127.0.0.1:{port}: ")


def test_a_silent_server_times_out_as_unreachable(api: ModuleType) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts the connection, never answers
        port = listener.getsockname()[1]
        with pytest.raises(ApiError) as raised:
            api.ArenaApi(f"http://127.0.0.1:{port}", timeout=0.3).list_agents()
    assert raised.value.status == 0
    assert "timed out" in raised.value.message


def test_a_url_that_is_not_http_is_refused_before_anything_is_sent(api: ModuleType) -> None:
    with pytest.raises(ApiError) as raised:
        api.ArenaApi("file:///etc").list_agents()
    assert raised.value.status == 0
    assert "is not an http:// or https:// URL" in raised.value.message
