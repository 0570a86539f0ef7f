"""Rating a finished match: Elo, the skill estimate, records and history in one transaction,
exactly once; and the reads that show them (rating history, the leaderboard by skill)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from rlarena.adapters.db.consumed_events import EventKey, claim
from rlarena.adapters.db.models import Agent, Match
from rlarena.adapters.db.rating_queries import RatingEntry
from rlarena.domain import records, skill
from rlarena.domain.end_reasons import SideEnd, agent_status, finished_reason
from rlarena.domain.statuses import MatchStatus
from rlarena.errors import EventRejected, NotFound
from rlarena.events.catalogue import (
    EventType,
    MatchFinished,
    RatingChange,
    RatingUpdated,
    Source,
    make_event,
)
from rlarena.service.commands import PageQuery
from rlarena.service.ports import PlatformCore
from rlarena.service.unit_of_work import UnitOfWorkLike

log = logging.getLogger(__name__)
CONSUMER = "ratings"


def rating_event_id(match_id: uuid.UUID) -> str:
    """Deterministic, so a republished update is recognisably the same event downstream."""
    return f"rating-updated-{match_id}"


def record_result(platform: PlatformCore, result: MatchFinished) -> RatingUpdated | None:
    """Apply a finished match once; a redelivery changes nothing and announces nothing again.

    The rating update is announced through the outbox, in the transaction that applies it, so it
    is published even if the process dies right after the commit: a redelivery has nothing to
    recover (before the outbox it republished, in case the publication after the commit was lost).
    """
    return _record(platform, result, recall=True)


def apply_result(platform: PlatformCore, result: MatchFinished) -> None:
    """`record_result` for the ratings function, which answers nothing: a redelivery ends at its
    claim (one statement), without reading back the update it announced the first time."""
    _record(platform, result, recall=False)


def _record(platform: PlatformCore, result: MatchFinished, *, recall: bool) -> RatingUpdated | None:
    with platform.uow() as uow:
        first_time = claim(uow, CONSUMER, EventKey("match", str(result.match_id)), EventType.MATCH_FINISHED)
        if not (first_time or recall):
            return None
        match = uow.ratings.lock_match(result.match_id)
        if match is None:
            raise EventRejected(f"match {result.match_id} does not exist")
        if not first_time:
            return _stored_update(uow, match)
        if match.status in (MatchStatus.FAILED, MatchStatus.CANCELLED):
            # The reaper or a deletion already closed this match; a late result is not rated.
            log.warning("ignoring result of match %s: it is already %s", match.id, match.status)
            uow.commit()
            return None
        update = _apply(uow, platform, match, result)
        _announce(uow, update)
        uow.commit()
    return update


def _announce(uow: UnitOfWorkLike, update: RatingUpdated) -> None:
    uow.publish(make_event(EventType.RATING_UPDATED, Source.RATINGS, update, event_id=rating_event_id(update.match_id)))


def _apply(uow: UnitOfWorkLike, platform: PlatformCore, match: Match, result: MatchFinished) -> RatingUpdated:
    scores = {r.agent_id: r.score for r in result.agent_results}
    try:
        records.check_result((match.agent1_id, match.agent2_id), set(scores), result.winner_id)
    except records.InvalidResult as error:
        raise EventRejected(f"match {match.id} {error}") from None
    # Both agents locked in a fixed order so concurrent results for shared agents cannot deadlock.
    agents = uow.ratings.lock_players({match.agent1_id, match.agent2_id})
    now = platform.clock()  # after the locks: each agent's history is ordered as it was applied
    first, second = agents[match.agent1_id], agents[match.agent2_id]
    changes = _rate(uow, match, result, first, second, now=now) if match.is_rated else []
    match.status = MatchStatus.COMPLETED.value
    match.winner_id = result.winner_id
    match.agent1_score = scores[first.id]
    match.agent2_score = scores[second.id]
    match.replay_url = result.replay_url or match.replay_url
    match.replay_html_url = result.replay_html_url or match.replay_html_url
    match.completed_at = result.finished_at or now
    match.updated_at = now
    _record_ending(match, result, first, second)
    # The rows were read detached (SQL Core, no ORM flush): written back here, agents only if rated.
    uow.ratings.save_rated(match, [first, second] if changes else [])
    return _update_event(match, changes)


def _record_ending(match: Match, result: MatchFinished, first: Agent, second: Agent) -> None:
    """Each side's status, and why the game ended with the failing agents named (not by id)."""
    by_agent = {r.agent_id: r for r in result.agent_results}
    sides = [
        SideEnd(agent.name, agent_status(by_agent[agent.id].status), by_agent[agent.id].error_message)
        for agent in (first, second)
    ]
    match.agent1_status, match.agent2_status = sides[0].status, sides[1].status
    match.end_reason = finished_reason(result.end_reason, sides)


def _rate(
    uow: UnitOfWorkLike, match: Match, result: MatchFinished, first: Agent, second: Agent, *, now: datetime
) -> list[RatingChange]:
    """The domain's ratings and records applied to both agents' rows, their history and the match."""
    rated = records.rate_match(_standing(first), _standing(second), result.winner_id)
    changes: list[RatingChange] = []
    for agent, side in zip((first, second), rated, strict=True):
        before, after = side.before, side.after
        changes.append(
            RatingChange(
                agent_id=agent.id,
                user_id=agent.user_id,
                elo_before=before.elo,
                elo_after=after.elo,
                elo_change=side.elo_change,
                skill_mu_before=before.skill.mu,
                skill_sigma_before=before.skill.sigma,
                skill_mu_after=after.skill.mu,
                skill_sigma_after=after.skill.sigma,
            )
        )
        agent.elo = after.elo
        agent.skill_mu, agent.skill_sigma = after.skill.mu, after.skill.sigma
        agent.rated_matches = after.rated_matches
        agent.total_matches = after.total_matches
        agent.wins, agent.losses, agent.draws = after.wins, after.losses, after.draws
        agent.updated_at = now
    uow.ratings.add_history(match.id, rated, result.winner_id, now)
    match.agent1_elo_change = rated[0].elo_change
    match.agent2_elo_change = rated[1].elo_change
    match.rated_at = now
    return changes


def _standing(agent: Agent) -> records.Standing:
    return records.Standing(
        agent_id=agent.id,
        elo=agent.elo,
        skill=skill.Skill(mu=agent.skill_mu, sigma=agent.skill_sigma),
        rated_matches=agent.rated_matches,
        total_matches=agent.total_matches,
        wins=agent.wins,
        losses=agent.losses,
        draws=agent.draws,
    )


def _stored_update(uow: UnitOfWorkLike, match: Match) -> RatingUpdated | None:
    if match.status != MatchStatus.COMPLETED:
        return None
    rows = uow.ratings.of_match(match.id)
    changes = [
        RatingChange(
            agent_id=h.agent_id,
            user_id=user_id,
            elo_before=h.elo_before,
            elo_after=h.elo_after,
            elo_change=h.elo_change,
            skill_mu_before=h.skill_mu_before,
            skill_sigma_before=h.skill_sigma_before,
            skill_mu_after=h.skill_mu_after,
            skill_sigma_after=h.skill_sigma_after,
        )
        for h, user_id in sorted(rows, key=lambda row: row[0].agent_id != match.agent1_id)
    ]
    return _update_event(match, changes)


def _update_event(match: Match, changes: list[RatingChange]) -> RatingUpdated:
    return RatingUpdated(
        match_id=match.id,
        environment_id=match.environment_id,
        winner_id=match.winner_id,
        agent1_score=match.agent1_score or 0.0,
        agent2_score=match.agent2_score or 0.0,
        changes=changes,
    )


def rating_history(platform: PlatformCore, agent_id: uuid.UUID, query: PageQuery) -> tuple[list[RatingEntry], int]:
    """One page of the agent's rating changes, newest first, each with its opponent and result,
    and how many there are."""
    with platform.uow() as uow:
        if uow.agents.get(agent_id) is None:
            raise NotFound(f"no agent {agent_id}")
        return uow.ratings.page(agent_id, offset=query.offset, limit=query.page_size)
