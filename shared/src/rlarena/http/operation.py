"""What a route declares about itself at registration: the facts the OpenAPI document is made of.

Plain data, no pydantic work: declaring a route costs nothing at cold start; the models are only
built when an answer is checked or the document is generated.
"""

from __future__ import annotations

from collections.abc import Mapping
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
class Content:
    """An answer or a body that is no pydantic model: its media types, each with a JSON schema
    (a download, an HTML replay, a multipart form); a model may stand for a JSON schema."""

    media: Mapping[str, type[BaseModel] | Mapping[str, Any]]
    description: str = ""


Answer = type[BaseModel] | Content | None


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
