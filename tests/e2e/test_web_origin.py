"""The web function as its container runs it (functions-framework, its own process and port) reads
the API at WEB_API_URL when set, and otherwise at the origin its request names: the forwarded one
only when TRUST_FORWARDED_FOR says a gateway in front sets it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from tests.conftest import ROOT
from tests.support.postgres import free_port
from tests.support.running_platform import BIN, RunningPlatform


@contextmanager
def web_function(**settings: str) -> Iterator[str]:
    """functions/web on a free port with these settings; its base URL."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name not in ("WEB_API_URL", "TRUST_FORWARDED_FOR")}
    command = [str(BIN / "functions-framework"), "--target", "web_http", "--source", "functions/web/main.py"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**env, **settings},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its gunicorn worker goes with it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while get(f"{base}/health")[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, "the web function did not start"
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=20) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def test_with_web_api_url_the_pages_read_that_api(local_platform: RunningPlatform) -> None:
    with web_function(WEB_API_URL=local_platform.base_url) as web:
        status, page = get(f"{web}/")
    assert status == 200 and 'href="/games/tic-tac-toe"' in page


def test_without_it_a_trusted_gateways_forwarded_origin_is_the_api(local_platform: RunningPlatform) -> None:
    gateway = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": urlsplit(local_platform.base_url).netloc}
    with web_function(TRUST_FORWARDED_FOR="true") as web:
        forwarded = get(f"{web}/", gateway)
        own = get(f"{web}/")  # no gateway in front: its own origin, which serves pages, not the API
    assert forwarded[0] == 200 and 'href="/games/tic-tac-toe"' in forwarded[1]
    assert own[0] == 404 and "tic-tac-toe" not in own[1]


def test_forwarded_headers_are_ignored_unless_trusted(local_platform: RunningPlatform) -> None:
    gateway = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": urlsplit(local_platform.base_url).netloc}
    with web_function(TRUST_FORWARDED_FOR="false") as web:
        status, page = get(f"{web}/", gateway)
    assert status == 404 and "tic-tac-toe" not in page
