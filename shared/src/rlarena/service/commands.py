"""What callers ask of the platform, validated at the edge. Wire names are camelCase."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic.alias_generators import to_camel

from rlarena.domain import users

Text = Annotated[str, StringConstraints(strip_whitespace=True)]


class Command(BaseModel):
    # Strict: "username": 42 is a 400, not a silently stringified 42.
    # defer_build: built on first use, not at import (cold start), like the HTTP schemas.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, strict=True, extra="ignore", defer_build=True
    )


def _problem(check: str | None, value: str) -> str:
    if check:
        raise ValueError(check)
    return value


class RegisterUser(Command):
    username: Text
    email: Text
    password: str
    full_name: Annotated[Text, StringConstraints(max_length=100)] | None = None

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return _problem(users.username_problem(value), value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = users.normalise_email(value)
        return _problem(users.email_problem(value), value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return _problem(users.password_problem(value), value)


class LogIn(Command):
    """`email` may hold a username too (the old frontend sends one field); `username` also works."""

    email: Annotated[Text, StringConstraints(max_length=254)] | None = None
    username: Annotated[Text, StringConstraints(max_length=254)] | None = None
    password: Annotated[str, StringConstraints(max_length=users.MAX_PASSWORD_LENGTH)]

    @model_validator(mode="after")
    def _needs_a_login(self) -> Self:
        if not (self.email or self.username):
            raise ValueError("send 'email' or 'username' with the password")
        return self

    @property
    def login(self) -> str:
        return self.email or self.username or ""


def _http_url(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    assert isinstance(value, str)
    if not value.startswith(("https://", "http://")) or len(value) > 2048 or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) URL of at most 2048 characters")
    return value


class UpdateProfile(Command):
    full_name: Annotated[Text, StringConstraints(max_length=100)] | None = None
    avatar_url: Annotated[str | None, BeforeValidator(_http_url)] = None


AgentName = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
Description = Annotated[Text, StringConstraints(max_length=2000)]


class CreateAgent(Command):
    name: AgentName
    description: Description = ""
    environment_id: Annotated[Text, StringConstraints(min_length=1, max_length=50)]

    @field_validator("description", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        return "" if value is None else value


class UpdateAgent(Command):
    name: AgentName | None = None
    description: Description | None = None

    @model_validator(mode="after")
    def _name_cannot_be_cleared(self) -> Self:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null; leave it out to keep the current name")
        return self


class Query(BaseModel):
    """Query strings arrive as text: lax parsing, camelCase names."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)


def _cap(maximum: int) -> BeforeValidator:
    def cap(value: object) -> object:
        try:
            return min(int(str(value)), maximum)
        except ValueError:
            return value

    return BeforeValidator(cap)


class PageQuery(Query):
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: Annotated[int, _cap(100)] = Field(20, ge=1)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


class MyAgentsQuery(Query):
    environment_id: Annotated[Text, StringConstraints(max_length=50)] | None = None


class LeaderboardQuery(Query):
    limit: Annotated[int, _cap(100)] = Field(20, ge=1)
    page: int = Field(1, ge=1, le=1_000_000)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


class SubmitCodeUrl(Command):
    agent_id: Annotated[Text, StringConstraints(min_length=1, max_length=64)]
    code_url: Annotated[Text, StringConstraints(min_length=1, max_length=2048)]


class RequestUploadUrl(Command):
    agent_id: Annotated[Text, StringConstraints(min_length=1, max_length=64)]
    filename: Annotated[Text, StringConstraints(min_length=1, max_length=255)]


class CreateMatch(Command):
    agent1_id: Annotated[Text, StringConstraints(min_length=1, max_length=64)]
    agent2_id: Annotated[Text, StringConstraints(min_length=1, max_length=64)]
