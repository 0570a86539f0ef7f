"""Cold start: a function's main.py, and its answer to the first GET /health, import none of the
platform's heavy machinery (SQLAlchemy, the models, the API's pydantic schemas, Kubernetes, MinIO,
gRPC); the API itself is imported in the background after that first answer, with the garbage
collector paused, and what it made frozen (rlarena.http.gc_pause). The event targets of
functions/ratings import their handlers on their first event."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HTTP_TARGETS = {
    "agents": "agents_http",
    "auth": "auth_http",
    "submissions": "submissions_http",
    "matchmaker": "matchmaker_http",
    "ws-relay": "ws_relay_http",
}
HEAVY = (
    "sqlalchemy", "pg8000", "kubernetes", "minio", "grpc", "openskill", "argon2", "jwt",
    "rlarena.adapters.db", "rlarena.bootstrap", "rlarena.http.api", "rlarena.http.schemas",
    "rlarena.entrypoints", "rlarena.service", "rlarena.events.catalogue",
    # The settings read the environment themselves (~40 ms of imports less than pydantic-settings).
    "pydantic_settings", "dotenv",
)  # fmt: skip

# Loads main.py as functions-framework does (create_app), answers one GET /health with the
# background import held back, and reports what was imported by then; then lets the import run.
SCRIPT = """
import gc, json, sys, threading
from functions_framework import create_app
from rlarena.http import deferred

started = []
deferred.DeferredApi._warm_up = lambda self: started.append(self)
app = create_app(sys.argv[1], sys.argv[2])
after_import = sorted(sys.modules)
answer = app.test_client().get("/health")
after_health = sorted(sys.modules)
api = started[0].load()  # what the background import does
print(json.dumps({
    "status": answer.status_code,
    "body": answer.get_json(),
    "after_import": after_import,
    "after_health": after_health,
    "loaded": type(api).__name__,
    "served_after": app.test_client().get("/health").get_json(),
    "collector_enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}))
"""


def heavy_in(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize("function", sorted(HTTP_TARGETS))
def test_the_first_health_answer_imports_no_heavy_module(function: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, HTTP_TARGETS[function], str(ROOT / "functions" / function / "main.py")],
        # An unreachable database: /health must not notice, since it never connects.
        env={
            "DATABASE_URL": "postgresql+pg8000://nobody@127.0.0.1:1/none",
            "DATA_DIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 200
    assert (report["body"]["status"], report["body"]["service"]) == ("ok", function)
    assert heavy_in(report["after_import"]) == []
    assert heavy_in(report["after_health"]) == []
    # Then the API is there, and its own /health route gives the very same answer.
    assert report["loaded"] == "HttpApi"
    assert report["served_after"] == report["body"]
    # The settings and the import ran without the collector, which runs again, their objects frozen.
    assert report["collector_enabled"] is True
    assert report["frozen"] > 10_000


EVENT_SCRIPT = """
import json, sys
from functions_framework import create_app
create_app(sys.argv[1], sys.argv[2], "cloudevent")
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("target", ["ratings_events", "dead_letters_events"])
def test_the_ratings_event_targets_import_their_handlers_only_on_their_first_event(target: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", EVENT_SCRIPT, target, str(ROOT / "functions" / "ratings" / "main.py")],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    assert heavy_in(json.loads(result.stdout.strip().splitlines()[-1])) == []
