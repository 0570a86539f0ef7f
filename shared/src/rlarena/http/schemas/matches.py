"""The matchmaker function's answers: matches, replays and agents' logs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from rlarena.domain.statuses import MatchStatus
from rlarena.http.schemas.base import Page, Schema

AgentStatus = Literal["OK", "ERROR", "TIMEOUT", "INVALID"]


class Match(Schema):
    """replayUrl/replayHtmlUrl are this API's download paths; endReason says why the game ended,
    naming an agent that failed; agentNStatus is each side's status (null until there is a result)."""

    id: uuid.UUID
    environment_id: str
    agent1_id: uuid.UUID
    agent2_id: uuid.UUID
    agent1_name: str | None
    agent2_name: str | None
    agent1_version: int | None
    agent2_version: int | None
    agent1_submission_id: uuid.UUID | None
    agent2_submission_id: uuid.UUID | None
    status: MatchStatus
    winner_id: uuid.UUID | None
    agent1_score: float | None
    agent2_score: float | None
    agent1_elo_change: int | None
    agent2_elo_change: int | None
    is_rated: bool
    end_reason: str | None
    agent1_status: AgentStatus | None
    agent2_status: AgentStatus | None
    is_public: bool
    replay_url: str | None
    replay_html_url: str | None
    error_message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime | None


class MatchReply(Schema):
    match: Match


class MatchPage(Page):
    matches: list[Match]


class AgentMatchPage(MatchPage):
    agent_id: uuid.UUID


class ReplayPage(Page):
    agent_id: uuid.UUID
    replays: list[Match]


class LogLine(Schema):
    frame: int | None = Field(description="The replay frame the line was printed for (null in older results)")
    text: str


class AgentLogs(Schema):
    agent_id: str | None
    status: AgentStatus | None
    error_message: str | None
    logs: str
    lines: list[LogLine]


class MatchLogs(Schema):
    match_id: uuid.UUID
    logs: list[AgentLogs]


class ReplayLink(Schema):
    replay_url: str
    match_id: uuid.UUID
    format: Literal["json", "html"]


class Replay(Schema):
    """A replay as the executor stored it (frames, steps, rewards), its metadata completed from
    the match's record."""

    model_config = ConfigDict(extra="allow")

    metadata: dict[str, object]
