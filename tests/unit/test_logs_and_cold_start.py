"""Request logs and the cold-start rule: no connection and no heavy import at import time."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from rlarena.logs import JsonFormatter
from tests.conftest import ROOT


def test_production_logs_are_one_json_object_with_the_request_fields() -> None:
    record = logging.LogRecord("rlarena.http", logging.INFO, "api.py", 1, "GET %s %d", ("/x", 200), None)
    record.http = {"method": "GET", "path": "/x", "status": 200, "latencyMs": 1.5}
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "GET /x 200"
    assert entry["level"] == "INFO"
    assert entry["http"] == {"method": "GET", "path": "/x", "status": 200, "latencyMs": 1.5}
    assert entry["time"].endswith("+00:00")


def test_importing_a_function_target_opens_no_connection_and_skips_heavy_modules() -> None:
    # An unreachable database: importing must not notice, because nothing connects until a request.
    script = (
        "import sys, runpy\n"
        "import rlarena.entrypoints.agents, rlarena.entrypoints.auth, rlarena.entrypoints.ratings\n"
        "heavy = [m for m in ('kubernetes', 'grpc', 'minio', 'uvicorn', 'starlette') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"DATABASE_URL": "postgresql+pg8000://nobody@127.0.0.1:1/none", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.strip() == ""
