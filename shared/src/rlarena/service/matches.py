"""Use cases of reading matches and their replays (the matchmaker function's read side).

Only public matches are shown: a private match reads as missing, whoever asks.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import StringConstraints

from rlarena.adapters.db import match_queries as queries
from rlarena.adapters.db.match_labels import LabelledMatch, labelled, labelled_one
from rlarena.adapters.db.models import Agent, Match
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.domain.statuses import MatchStatus
from rlarena.domain.texts import cap_text
from rlarena.errors import Forbidden, InvalidInput, NotFound
from rlarena.service.commands import PageQuery, Query, Text
from rlarena.service.ports import PlatformCore

if TYPE_CHECKING:
    from rlarena.adapters.db.rate_limits import RateLimiter
    from rlarena.adapters.storage.base import ObjectStore

REPLAY_WINDOW = timedelta(minutes=1)
STATUSES = [s.value for s in MatchStatus]


class MatchesPlatform(PlatformCore, Protocol):
    """What the match-reading use cases need of the platform (`bootstrap.Platform` is one)."""

    @property
    def store(self) -> ObjectStore: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...


class MatchListQuery(PageQuery):
    environment_id: Annotated[Text, StringConstraints(max_length=50)] | None = None
    agent_id: uuid.UUID | None = None
    status: Annotated[Text, StringConstraints(max_length=20)] | None = None


class ReplaysQuery(PageQuery):
    agent_id: uuid.UUID


class ReplayFormatQuery(Query):
    format: Literal["json", "html"] = "json"


def list_matches(platform: MatchesPlatform, query: MatchListQuery) -> tuple[list[LabelledMatch], int]:
    if query.status and query.status not in STATUSES:
        raise InvalidInput(
            f"unknown status {query.status!r}: use one of {', '.join(STATUSES)}",
            details={"field": "status", "allowed": STATUSES},
        )
    with platform.uow() as uow:
        found, total = queries.public_matches_page(
            uow.session,
            offset=query.offset,
            limit=query.page_size,
            environment_id=query.environment_id,
            agent_id=query.agent_id,
            status=query.status,
        )
        return labelled(uow.session, found), total


def get_match(platform: MatchesPlatform, match_id: uuid.UUID) -> LabelledMatch:
    with platform.uow() as uow:
        return labelled_one(uow.session, _public_match(uow, match_id))


def matches_of_agent(
    platform: MatchesPlatform, agent_id: uuid.UUID, page: PageQuery
) -> tuple[list[LabelledMatch], int]:
    """The agent's public matches, newest first; a deleted agent's history stays readable."""
    with platform.uow() as uow:
        _known_agent(uow, agent_id)
        found, total = queries.public_matches_page(
            uow.session, offset=page.offset, limit=page.page_size, agent_id=agent_id
        )
        return labelled(uow.session, found), total


def replays(platform: MatchesPlatform, query: ReplaysQuery) -> tuple[list[LabelledMatch], int]:
    """The agent's completed public matches that have a replay, newest first."""
    with platform.uow() as uow:
        _known_agent(uow, query.agent_id)
        found, total = queries.public_matches_page(
            uow.session,
            offset=query.offset,
            limit=query.page_size,
            agent_id=query.agent_id,
            status=MatchStatus.COMPLETED.value,
            with_replay=True,
        )
        return labelled(uow.session, found), total


def limit_replay_downloads(platform: MatchesPlatform, client_ip: str) -> None:
    """Count one replay download for this address; 429 past the per-minute limit."""
    platform.rate_limiter.hit(
        f"replay:{client_ip}",
        limit=platform.settings.replay_rate_limit_per_minute,
        window=REPLAY_WINDOW,
        now=platform.clock(),
        what="replay downloads",
    )


def replay_key_of(platform: MatchesPlatform, match_id: uuid.UUID) -> str:
    """The object-store key of the match's replay; 404 saying why when there is none."""
    with platform.uow() as uow:
        return _replay_key(_public_match(uow, match_id))


def replay_of(platform: MatchesPlatform, match_id: uuid.UUID) -> dict[str, Any]:
    """The stored replay, its metadata completed from the match's record: the agents' names and
    versions, whether it was rated, why it ended (agents named) and each side's status."""
    with platform.uow() as uow:
        record = labelled_one(uow.session, _public_match(uow, match_id))
    key = _replay_key(record.match)
    try:
        data = platform.store.get(key)
    except NotFound:
        raise NotFound(f"the replay of match {match_id} is missing from storage", code="no_replay") from None
    replay = json.loads(data)
    if not isinstance(replay, dict):
        raise NotFound(f"the replay of match {match_id} is unreadable", code="no_replay")
    metadata = replay.get("metadata")
    replay["metadata"] = {**(metadata if isinstance(metadata, dict) else {}), **_record_metadata(record)}
    return replay


def _replay_key(match: Match) -> str:
    if not match.replay_url:
        raise NotFound(f"match {match.id} has no replay (its status is {match.status})", code="no_replay")
    return match.replay_url


def _record_metadata(record: LabelledMatch) -> dict[str, Any]:
    """What the match's record knows better than the executor did (it knew agents by id only)."""
    match = record.match
    known: dict[str, Any] = {
        "agent_names": list(record.names),
        "agent_versions": list(record.versions),
        "is_rated": match.is_rated,
    }
    if match.end_reason:
        known["end_reason"] = match.end_reason
    if match.agent1_status and match.agent2_status:
        known["agent_statuses"] = [match.agent1_status, match.agent2_status]
    return known


def agent_logs(platform: MatchesPlatform, user_id: uuid.UUID, match_id: uuid.UUID) -> list[dict[str, Any]]:
    """What the caller's agents printed (stderr, capped) in a match, with their per-agent status.

    Owners only: another user's agent logs may hold that user's debugging output.
    """
    from rlarena.domain.match_keys import result_key  # the executor's storage layout, not its code

    with platform.uow() as uow:
        match = _public_match(uow, match_id)
        owners = queries.owners_of(uow.session, [match.agent1_id, match.agent2_id])
        status = match.status
    mine = {str(agent) for agent, owner in owners.items() if owner == user_id}
    if not mine:
        raise Forbidden("only the owners of this match's agents can read its logs")
    try:
        report = json.loads(platform.store.get(result_key(str(match_id))))
    except NotFound:
        raise NotFound(f"match {match_id} has no logs yet (its status is {status})", code="no_logs") from None
    from rlarena.domain.log_lines import frame_lines

    logs: list[dict[str, Any]] = []
    for result in report.get("agent_results", []):
        if not isinstance(result, dict) or result.get("agent_id") not in mine:
            continue
        text = result.get("logs", "")
        text = text if isinstance(text, str) else ""
        offsets = result.get("log_offsets")
        offsets = offsets if isinstance(offsets, list) else []
        logs.append(
            {
                "agentId": result.get("agent_id"),
                "status": result.get("status"),
                "errorMessage": _capped(result.get("error_message")),
                "logs": text,
                # Each line with the replay frame it was printed for (None in older results).
                "lines": frame_lines(text, offsets),
            }
        )
    return logs


def _capped(text: object) -> str | None:
    """An agent's error as stored by the executor, capped again here for results stored before the cap."""
    return cap_text(text) if isinstance(text, str) and text else None


def _public_match(uow: UnitOfWork, match_id: uuid.UUID) -> Match:
    match = queries.match_by_id(uow.session, match_id)
    if match is None or not match.is_public:
        raise NotFound(f"no match {match_id}")
    return match


def _known_agent(uow: UnitOfWork, agent_id: uuid.UUID) -> Agent:
    # Deleted agents included: their rows stay so that match history keeps naming them.
    agent = queries.agent_by_id(uow.session, agent_id)
    if agent is None:
        raise NotFound(f"no agent {agent_id}")
    return agent
