"""The OpenAPI 3.1 document, generated from what the routes declare (rlarena.http.operation).

`document(api)` describes one function's routes (served by each at GET /api/v1/openapi.json);
`build(operations)` any set of them (rlarena.api_docs.generate merges the functions').
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from rlarena import __version__
from rlarena.http.operation import Answer, Content, Model, Operation, Ref, resolved
from rlarena.http.schemas.base import ErrorBody

if TYPE_CHECKING:
    from rlarena.http.api import HttpApi

REF = "#/components/schemas/{model}"
TITLE = "RL Arena API"
ABOUT = (
    "The REST API of RL Arena: accounts, agents and their code, builds, matches, replays, leaderboards "
    "and live updates. Every answer is JSON unless said otherwise; every error is "
    '`{"error", "code", "details"?}` with the status of `rlarena.errors`. Send the token of '
    "POST /api/v1/auth/register or /login as `Authorization: Bearer <token>` where a route needs it. "
    "Routes that read the database answer 503 with Retry-After while it is down; rate-limited routes "
    "answer 429 with Retry-After."
)

ERROR_MEANINGS = {
    400: "Invalid input: the message says which field and why (details lists them)",
    401: "No, a malformed or an expired bearer token, or its account no longer exists",
    403: "Authenticated, but the resource belongs to someone else",
    404: "Nothing with that id (or route)",
    405: "Method not allowed here",
    409: "Conflicts with what exists (a name or an account taken, a state that forbids it)",
    413: "The body is larger than the limit",
    415: "The body's media type is not one this route takes",
    422: "Well-formed but not processable",
    426: "Needs a WebSocket upgrade",
    429: "Rate limit or quota reached: retry after Retry-After seconds",
    503: "A dependency (the database, storage, the broker) is unavailable: retry after Retry-After seconds",
}
SUCCESS_MEANINGS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 101: "Switching protocols"}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def openapi_path(rule: str) -> str:
    """werkzeug's `/agents/<agentId>` as OpenAPI's `/agents/{agentId}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def document(api: HttpApi) -> dict[str, Any]:
    """One function's document: every route it answers, internal ones included."""
    return build(api.operations(), title=f"{TITLE}: {api.service}")


def build(operations: Iterable[Operation], *, title: str) -> dict[str, Any]:
    operations = sorted(operations, key=lambda op: (op.rule, op.method))
    definitions = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(openapi_path(operation.rule), {})[operation.method.lower()] = _operation(
            operation, definitions
        )
    for query in {op.query for op in operations if op.query is not None}:
        definitions.components.pop(definitions.name(query), None)  # inlined as parameters
    tags = sorted({tag for operation in operations for tag in operation.tags})
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__, "description": ABOUT},
        "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": definitions.components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The token of POST /api/v1/auth/register or /api/v1/auth/login",
                },
            },
        },
    }


class _Definitions:
    """Every model's JSON schema under components/schemas, and each model's reference."""

    def __init__(self, models: list[tuple[type[BaseModel], JsonSchemaMode]]) -> None:
        refs, top = models_json_schema(models, ref_template=REF)
        self.refs = refs
        self.components: dict[str, Any] = dict(sorted(top.get("$defs", {}).items()))

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode = "validation") -> dict[str, Any]:
        return dict(self.refs[(model, mode)])

    def name(self, model: type[BaseModel]) -> str:
        return str(self.ref(model)["$ref"]).rsplit("/", 1)[-1]

    def inline(self, model: type[BaseModel]) -> dict[str, Any]:
        schema: dict[str, Any] = self.components[self.name(model)]
        return schema


def _is_model(item: object) -> bool:
    return isinstance(item, Ref) or (isinstance(item, type) and issubclass(item, BaseModel))


def _models_of(operation: Operation) -> Iterable[type[BaseModel]]:
    for item in (operation.body, operation.query, *operation.responses.values()):
        if isinstance(item, Content):
            yield from (resolved(m) for m in item.media.values() if _is_model(m))  # type: ignore[arg-type]
        elif _is_model(item):
            yield resolved(item)  # type: ignore[arg-type]


def _schemas(operations: list[Operation]) -> _Definitions:
    models = {ErrorBody: None} | {model: None for op in operations for model in _models_of(op)}
    return _Definitions([(model, "validation") for model in models])


def _operation(operation: Operation, definitions: _Definitions) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "description": operation.description,
        "tags": list(operation.tags),
    }
    parameters = _path_parameters(operation) + _query_parameters(operation, definitions)
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {"required": True, "content": _content(operation.body, definitions)}
    if operation.auth == "bearer":
        described["security"] = [{"bearer": []}]
    elif operation.auth == "optional":
        described["security"] = [{}, {"bearer": []}]
    else:
        described["security"] = []
    responses: dict[str, Any] = {}
    for status, answer in sorted(operation.responses.items()):
        meaning = SUCCESS_MEANINGS.get(status) or ERROR_MEANINGS.get(status, "OK")
        responses[str(status)] = _response(meaning, answer, definitions)
        if operation.headers.get(status):
            responses[str(status)]["headers"] = {
                name: {"description": meaning, "schema": {"type": "string"}}
                for name, meaning in operation.headers[status].items()
            }
    for status in operation.error_statuses():
        responses[str(status)] = _response(ERROR_MEANINGS[status], ErrorBody, definitions)
        if status in (429, 503):
            responses[str(status)]["headers"] = dict(RETRY_AFTER)
    described["responses"] = responses
    return described


def _response(meaning: str, answer: Answer, definitions: _Definitions) -> dict[str, Any]:
    if answer is None:
        return {"description": meaning}
    if isinstance(answer, Content) and answer.description:
        meaning = answer.description
    return {"description": meaning, "content": _content(answer, definitions)}


def _content(answer: Model | Content, definitions: _Definitions) -> dict[str, Any]:
    media: Mapping[str, Model | Mapping[str, Any]] = (
        answer.media if isinstance(answer, Content) else {"application/json": answer}
    )
    return {
        name: {"schema": definitions.ref(resolved(schema)) if _is_model(schema) else dict(schema)}  # type: ignore[arg-type]
        for name, schema in media.items()
    }


def _path_parameters(operation: Operation) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": param.description,
            "schema": {"type": "string", "format": "uuid"} if param.uuid else {"type": "string", "minLength": 1},
        }
        for name, param in operation.params.items()
    ]


def _query_parameters(operation: Operation, definitions: _Definitions) -> list[dict[str, Any]]:
    if operation.query is None:
        return []
    schema = definitions.inline(operation.query)
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema.get("properties", {}).items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        field = dict(field_schema)
        if "description" in field:
            parameter["description"] = field.pop("description")
        field.pop("title", None)
        parameter["schema"] = field
        parameters.append(parameter)
    return parameters


def document_bytes(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()
