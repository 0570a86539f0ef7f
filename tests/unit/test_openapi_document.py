"""The OpenAPI document: complete (every route described, with a model for each answer), valid
OpenAPI 3.1, and the shipped copy never stale."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from typing import Any

import pytest
from openapi_spec_validator import validate

from rlarena.api_docs import merged_document_bytes
from rlarena.api_docs.generate import SERVICES, main, merged_document
from rlarena.http.api import HttpApi
from rlarena.http.openapi import document, openapi_path
from rlarena.http.operation import Content, Operation
from rlarena.platform.targets import HTTP_SERVICES, http_services

ERROR_STATUSES = {400, 401, 403, 404, 405, 409, 413, 415, 422, 426, 429, 503}


def apis() -> dict[str, HttpApi]:
    return {name: target for name, target in http_services().items() if isinstance(target, HttpApi)}


def every_operation() -> list[Any]:
    return [
        pytest.param(op, id=f"{name} {op.method} {op.rule}") for name, api in apis().items() for op in api.operations()
    ]


def test_the_merged_document_covers_every_function_but_the_web_app() -> None:
    assert sorted(apis()) == sorted(SERVICES)


@pytest.mark.parametrize("operation", every_operation())
def test_every_route_says_what_it_is_for_and_what_it_answers(operation: Operation) -> None:
    assert operation.summary.strip(), "add summary= to the route"
    assert operation.description.strip(), "add description= (or a docstring) to the route"
    assert operation.responses, "declare responses={status: model} on the route"
    for status, answer in operation.responses.items():
        if status in (101, 204):
            assert answer is None
        elif isinstance(answer, Content):
            assert answer.media, f"{status}: name the media types"
        else:
            assert answer is not None, f"{status}: give a response model"


def test_every_route_of_every_function_has_one_operation_with_a_unique_snake_case_id() -> None:
    for name, api in apis().items():
        declared = sorted((op.method, op.rule) for op in api.operations())
        assert declared == api.routes(), name
        ids = [op.operation_id for op in api.operations()]
        assert len(ids) == len(set(ids)), name
        assert all(i.isidentifier() and i == i.lower() for i in ids), ids


def test_the_document_is_valid_openapi_3_1() -> None:
    merged = merged_document()
    validate(merged)
    assert merged["openapi"] == "3.1.0"
    for api in apis().values():
        validate(document(api))


def test_the_shipped_document_is_the_generated_one() -> None:
    assert main(["--check"]) == 0, "run `make docs`"
    assert json.loads(merged_document_bytes()) == merged_document()


def test_every_public_route_is_in_the_merged_document_once_and_internal_ones_are_not() -> None:
    paths = merged_document()["paths"]
    listed = {(method.upper(), path) for path, item in paths.items() for method in item}
    expected = {
        (op.method, openapi_path(op.rule)) for api in apis().values() for op in api.operations() if not op.internal
    }
    assert listed == expected
    assert "/internal/storage-events" not in paths
    assert ("GET", "/api/v1/agents/{agentId}") in listed


def test_errors_bearer_auth_pagination_and_retry_after_are_described() -> None:
    merged = merged_document()
    paths = merged["paths"]
    create = paths["/api/v1/agents"]["post"]
    assert create["security"] == [{"bearer": []}]
    assert {"400", "401", "409", "413", "415", "503"} <= set(create["responses"])
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AgentReply"
    }
    error = create["responses"]["409"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}
    assert set(merged["components"]["schemas"]["ErrorBody"]["required"]) == {"error", "code"}
    assert "Retry-After" in create["responses"]["503"]["headers"]
    register = paths["/api/v1/auth/register"]["post"]
    assert register["security"] == [] and "Retry-After" in register["responses"]["429"]["headers"]
    listing = paths["/api/v1/agents"]["get"]
    assert {p["name"]: p["in"] for p in listing["parameters"]} == {"page": "query", "pageSize": "query"}
    assert "401" not in listing["responses"]
    replay = paths["/api/v1/matches/{matchId}/replay"]["get"]["responses"]["200"]["content"]
    assert set(replay) == {"application/json", "text/html"}
    assert paths["/health"]["get"]["responses"].keys() == {"200"}  # no database, no input: never 4xx or 503
    statuses = {int(s) for item in paths.values() for op in item.values() for s in op["responses"]}
    assert statuses - {101, 200, 201, 202} <= ERROR_STATUSES


def test_a_function_document_describes_exactly_its_own_routes() -> None:
    from rlarena.entrypoints.auth import api

    described = document(api)
    assert {p.replace("{", "<").replace("}", ">") for p in described["paths"]} == {op.rule for op in api.operations()}
    assert described["info"]["title"].endswith(": auth")
    assert "/api/v1/agents" not in described["paths"]


def test_importing_a_function_imports_no_response_model() -> None:
    # The models cost ~0.1 s to import: a cold start leaves them to the first checked answer.
    modules = ", ".join(target.partition(":")[0] for name, target in HTTP_SERVICES.items() if name in SERVICES)
    probe = (
        f"import sys; import {modules}; "
        "print(sorted(m for m in sys.modules if m.startswith(('rlarena.http.schemas.', 'rlarena.http.openapi'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    # Only the path parameters' constants and the base the relay's ticket model derives from.
    assert set(ast.literal_eval(loaded)) <= {"rlarena.http.schemas.params", "rlarena.http.schemas.base"}, loaded
