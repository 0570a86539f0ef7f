"""The agents function's answers: agents, leaderboards, head-to-head, rating history, environments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from rlarena.http.schemas.base import Page, Schema


class Skill(Schema):
    """The skill estimate; `conservative` (mu - 3 sigma) is what the agent very probably has at least."""

    mu: float
    sigma: float
    conservative: float


class Agent(Schema):
    id: uuid.UUID
    user_id: uuid.UUID
    username: str
    name: str
    description: str
    environment_id: str
    elo: int
    score: int = Field(description="The Elo rating again (the old clients' name)")
    wins: int
    losses: int
    draws: int
    total_matches: int
    skill: Skill | None
    active_submission_id: uuid.UUID | None
    rank: int | None
    house: bool = Field(description="A house agent, shipped with the platform")
    created_at: datetime | None
    updated_at: datetime | None


class AgentReply(Schema):
    agent: Agent


class AgentPage(Page):
    agents: list[Agent]


class MyAgents(Schema):
    agents: list[Agent]
    total: int


class AgentDeleted(Schema):
    message: str
    agent_id: uuid.UUID


class OpponentRecord(Schema):
    opponent_id: uuid.UUID
    opponent_name: str
    wins: int
    losses: int
    draws: int
    total_matches: int


class AgentStats(Schema):
    agent_id: uuid.UUID
    stats: list[OpponentRecord]
    total: int


class RatingChange(Schema):
    """One rating change, with whom the agent met and how it went."""

    match_id: uuid.UUID
    elo_before: int
    elo_after: int
    elo_change: int
    skill_before: Skill | None
    skill: Skill | None
    created_at: datetime | None
    opponent_id: uuid.UUID | None
    opponent_name: str | None
    result: Literal["win", "draw", "loss"] | None
    score: float | None


class RatingHistory(Page):
    agent_id: uuid.UUID
    history: list[RatingChange]


class Leaderboard(Schema):
    leaderboard: list[Agent]
    total: int


class EnvironmentLeaderboard(Leaderboard):
    environment_id: str


class FieldMeaning(Schema):
    name: str
    type: str
    meaning: str


class ConfigurationField(FieldMeaning):
    value: Any = None


class Observation(Schema):
    fields: list[FieldMeaning]


class Configuration(Schema):
    fields: list[ConfigurationField]
    parameters: dict[str, Any]


class Limits(Schema):
    move_timeout_s: float
    overage_s: float
    startup_timeout_s: float
    match_timeout_s: float
    memory_bytes: int
    max_processes: int
    max_file_bytes: int
    tmp_bytes: int
    cpus: float
    network: bool
    log_cap_chars: int


class EndCondition(Schema):
    reason: str
    result: str
    meaning: str


class Package(Schema):
    name: str
    version: str


class Packages(Schema):
    python: str
    preinstalled: list[Package]
    summary: str


class HouseAgent(Schema):
    name: str
    description: str


class Compatibility(Schema):
    layers: list[dict[str, Any]]
    documentation: str


class Environment(Schema):
    """A game, and what agents are given there (the same source as docs/agents.md)."""

    id: str
    name: str
    description: str
    version: str
    config: dict[str, Any]
    created_at: datetime | None
    summary: str
    agent_forms: list[str]
    observation: Observation
    configuration: Configuration
    actions: str
    turns: str
    sides: str
    limits: Limits
    end_conditions: list[EndCondition]
    statuses: dict[str, str]
    failures: str
    packages: Packages
    house_agents: list[HouseAgent]
    documentation: str
    compatibility: Compatibility


class Environments(Schema):
    environments: list[Environment]
    total: int
