"""The base of every response model, and the error body every route can answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Schema(BaseModel):
    """camelCase on the wire; a key the model does not name is a mismatch (the model must grow)."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", defer_build=True)


class ErrorBody(Schema):
    """Every error: what went wrong and what to do (`error`), a stable `code`, and `details` where
    they help (the fields that failed validation, the seconds to wait before retrying)."""

    error: str = Field(description="What went wrong and what to do, for people")
    code: str = Field(description="A stable snake_case code, for programs (e.g. invalid_input, not_found)")
    details: Any = Field(None, description="More, where it helps: invalid fields, retryAfterSeconds")


class Message(Schema):
    message: str


class Page(Schema):
    """The paging of a list answer: the matching total, the page asked for and its size."""

    total: int = Field(ge=0)
    page: int = Field(ge=1)
    page_size: int = Field(ge=1)
