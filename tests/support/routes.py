"""Every route of every HTTP function, classified from what the route declares about itself.

The functions are the Knative Services of `rlarena.platform.targets.HTTP_SERVICES` whose target is
an HttpApi (each reached through its functions/<name>/main.py, as its container loads it); their
routes are `HttpApi.routes()`, and who may call a route and what it takes come from its metadata
(`HttpApi.operations()`: auth, body, error statuses, path parameters). The bad-input, outage and
deleted-user suites derive their requests from this, so a new route is covered as soon as it is
registered; a route no suite should call is listed in EXEMPT with the reason.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import TypeVar

from pydantic import BaseModel

from rlarena.http.api import HttpApi
from rlarena.http.deferred import DeferredApi
from rlarena.http.operation import Content, Operation
from rlarena.platform.targets import HTTP_SERVICES, http_services
from tests.conftest import ROOT


class Access(Enum):
    PUBLIC = "anyone"
    USER = "any signed-in user"
    OWNER = "the owner of the agent, submission or match in the path"
    WEBHOOK = "the storage webhook's shared secret"


class Takes(Enum):
    NOTHING = "no body"
    JSON = "a JSON object"
    RAW = "raw bytes"


@dataclass(frozen=True)
class Route:
    access: Access
    takes: Takes = Takes.NOTHING


# Knative Services in HTTP_SERVICES that are no JSON API, and why the bad-input suites leave them out.
NOT_JSON_APIS = {
    "web": "the web app's HTML pages for people (its own router): tests/unit/test_web_*.py and the browser tests",
}

# Routes the suites must not call, with the reason. Empty: every route of every API is called.
EXEMPT: dict[tuple[str, str, str], str] = {}

# What a UUID path parameter names, by its name: the suites put the caller's own one there.
ENTITIES = {"agentId": "agent", "submissionId": "submission", "matchId": "match"}


@dataclass(frozen=True)
class Function:
    name: str
    target: str
    api: HttpApi


@cache
def functions() -> dict[str, Function]:
    """Each HttpApi service of HTTP_SERVICES with its functions/<name>/main.py target."""
    found = {}
    for name, target in http_services().items():
        if not isinstance(target, HttpApi):
            assert name in NOT_JSON_APIS, f"{name} serves no HttpApi: say why in NOT_JSON_APIS"
            continue
        found[name] = Function(name, _bound_target(name, target), target)
    return found


def _bound_target(name: str, api: HttpApi) -> str:
    """The *_http target of functions/<name>/main.py, which must serve this very HttpApi."""
    main = ROOT / "functions" / name / "main.py"
    assert main.is_file(), f"{HTTP_SERVICES[name]} is served as {name}, but {main} does not exist"
    spec = importlib.util.spec_from_file_location(f"_routes_{name.replace('-', '_')}", main)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    apis = [
        value.load() if isinstance(value, DeferredApi) else value  # imported after /health: the same HttpApi
        for value in vars(module).values()
        if isinstance(value, HttpApi | DeferredApi)
    ]
    targets = [
        attribute for attribute, value in vars(module).items() if attribute.endswith("_http") and callable(value)
    ]
    assert apis == [api] and len(targets) == 1, f"{main}: expected {HTTP_SERVICES[name]} and one *_http target"
    return targets[0]


def served_routes() -> list[tuple[str, str, str]]:
    """(function, method, rule) of every route the APIs answer, but those EXEMPT."""
    served = {(f.name, method, rule) for f in functions().values() for method, rule in f.api.routes()}
    return sorted(served - EXEMPT.keys())


@cache
def operations() -> dict[tuple[str, str, str], Operation]:
    return {(f.name, op.method, op.rule): op for f in functions().values() for op in f.api.operations()}


def classify(operation: Operation) -> Route:
    """Who may call the route and what it takes, from what it declares."""
    return Route(_access(operation), _takes(operation.body))


def _access(operation: Operation) -> Access:
    if operation.auth != "bearer":
        return Access.PUBLIC
    if operation.internal:
        return Access.WEBHOOK
    names_one_of_theirs = any(param.uuid for param in operation.params.values())
    return Access.OWNER if names_one_of_theirs and 403 in operation.error_statuses() else Access.USER


def _takes(body: type[BaseModel] | Content | None) -> Takes:
    if body is None:
        return Takes.NOTHING
    if not isinstance(body, Content):
        return Takes.JSON
    # A body the route validates field by field is JSON; any other (bytes, any object) is raw.
    validated = [schema for media, schema in body.media.items() if media == "application/json"]
    return Takes.JSON if validated and isinstance(validated[0], type) else Takes.RAW


K = TypeVar("K")
V = TypeVar("V")


class _Lazy(Mapping[K, V]):
    """A table worked out on first use, not when a test module imports it."""

    def __init__(self, build: Callable[[], dict[K, V]]) -> None:
        self._build = build

    def __getitem__(self, key: K) -> V:
        return self._build()[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())


@cache
def _classified() -> dict[tuple[str, str, str], Route]:
    declared = operations()
    return {key: classify(declared[key]) for key in served_routes() if key in declared}


@cache
def _param_kinds() -> dict[str, str]:
    kinds = {}
    for operation in operations().values():
        for name, param in operation.params.items():
            kinds[name] = ENTITIES.get(name, "unknown") if param.uuid else "text"
    return kinds


# Every served route's classification (a route without metadata is missing: the suite says so).
ROUTES: Mapping[tuple[str, str, str], Route] = _Lazy(_classified)
# Each path parameter's kind: "agent", "submission" or "match" (the caller's own), or "text".
PARAMS: Mapping[str, str] = _Lazy(_param_kinds)
