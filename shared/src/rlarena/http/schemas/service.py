"""What every function answers about itself: /health and the relay's plain-HTTP refusal."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rlarena.http.schemas.base import Schema


class AgentRuntime(Schema):
    state: Literal["ready", "stale", "missing", "unreachable"]
    detail: str
    packages: dict[str, str]


class Health(Schema):
    """Answered without touching the database: how this function isolates agents and what they import."""

    status: Literal["ok"]
    service: str
    version: str
    sandbox: str | list[str] = Field(description='"strict", "kubernetes", or what the strict sandbox lacks here')
    agent_runtime: AgentRuntime | Literal["kubernetes"]
