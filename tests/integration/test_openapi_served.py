"""Every HTTP function serves its own routes' OpenAPI document at GET /api/v1/openapi.json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from functions_framework import create_app

from rlarena.http.api import HttpApi
from rlarena.http.openapi import document
from rlarena.platform.targets import http_services
from tests.conftest import ROOT

# Each API's Knative Service -> its functions/<name>/main.py target.
TARGETS = {
    "auth": "auth_http",
    "agents": "agents_http",
    "submissions": "submissions_http",
    "matchmaker": "matchmaker_http",
    "ws-relay": "ws_relay_http",
}


def test_every_api_function_is_here() -> None:
    assert sorted(TARGETS) == sorted(n for n, target in http_services().items() if isinstance(target, HttpApi))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_function_serves_the_document_of_its_own_routes(name: str, platform: Any) -> None:
    main = ROOT / "functions" / name / "main.py"
    client = create_app(TARGETS[name], str(main)).test_client()  # type: ignore[no-untyped-call]
    api = http_services()[name]
    assert isinstance(api, HttpApi)

    first = client.get("/api/v1/openapi.json")
    again = client.get("/api/v1/openapi.json")

    assert first.status_code == 200
    assert first.mimetype == "application/json"
    served = json.loads(first.data)
    assert served == json.loads(json.dumps(document(api)))
    assert {(m.upper(), p) for p, item in served["paths"].items() for m in item} == {
        (op.method, op.rule.replace("<", "{").replace(">", "}")) for op in api.operations()
    }
    assert again.data == first.data
