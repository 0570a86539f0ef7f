"""What a route declares about itself at registration: the facts the OpenAPI document is made of.

Plain data, no pydantic work: declaring a route costs nothing at cold start; the models are only
built when an answer is checked or the document is generated.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

# Who may call: nobody needs a token, a bearer token is required, or a token changes the answer.
Auth = Literal["none", "bearer", "optional"]

# Statuses every route of a kind can answer, added to the ones a route names.
AUTH_ERRORS = (401,)
BODY_ERRORS = (400, 413, 415)
INPUT_ERRORS = (400,)
DATABASE_ERRORS = (503,)


@dataclass(frozen=True)
class Ref:
    """A response model named by "module:Class", imported when an answer is first checked or the
    document is built: the models cost ~0.1 s to import, which a cold start should not pay."""

    target: str

    def resolve(self) -> type[BaseModel]:
        return _resolve(self.target)


@functools.cache
def _resolve(target: str) -> type[BaseModel]:
    module, _, name = target.partition(":")
    model = getattr(importlib.import_module(module), name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{target} is not a pydantic model")
    return model


def schemas(area: str) -> Callable[[str], Ref]:
    """Refs to the models of `rlarena.http.schemas.<area>`: `model = schemas("agents")`, then
    `responses={200: model("AgentPage")}`."""
    return lambda name: Ref(f"rlarena.http.schemas.{area}:{name}")


Model = type[BaseModel] | Ref


def resolved(model: Model) -> type[BaseModel]:
    return model.resolve() if isinstance(model, Ref) else model


@dataclass(frozen=True)
class Content:
    """An answer or a body that is no pydantic model: its media types, each with a JSON schema
    (a download, an HTML replay, a multipart form); a model may stand for a JSON schema."""

    media: Mapping[str, Model | Mapping[str, Any]]
    description: str = ""


Answer = Model | Content | None


@dataclass(frozen=True)
class PathParam:
    """A path parameter: what it names, and whether it must be a UUID (else any text)."""

    description: str
    uuid: bool = True


@dataclass(frozen=True)
class Operation:
    """One method of one rule: what it is for, who may call it, what it takes and what it answers."""

    method: str
    rule: str
    operation_id: str
    summary: str
    description: str
    tags: tuple[str, ...]
    auth: Auth
    body: type[BaseModel] | Content | None
    query: type[BaseModel] | None
    params: Mapping[str, PathParam]
    responses: Mapping[int, Answer]
    errors: tuple[int, ...]
    rate_limited: bool
    database: bool
    internal: bool
    headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)

    def error_statuses(self) -> list[int]:
        """Every error status this operation can answer, named or implied by what it takes."""
        implied: set[int] = set(self.errors)
        if self.auth in {"bearer", "optional"}:
            implied.update(AUTH_ERRORS)
        if self.body is not None:
            implied.update(BODY_ERRORS)
        if self.query is not None or self.params:
            implied.update(INPUT_ERRORS)
        if self.rate_limited:
            implied.add(429)
        if self.database:
            implied.update(DATABASE_ERRORS)
        return sorted(implied - set(self.responses))
