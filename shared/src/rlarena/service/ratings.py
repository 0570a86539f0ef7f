"""Rating a finished match: Elo, the skill estimate, records and history in one transaction,
exactly once; and the reads that show them (rating history, the leaderboard by skill)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, func, insert, select

from rlarena.adapters.db.consumed_events import EventKey, claim
from rlarena.adapters.db.models import Agent, Match, RatingHistory, User
from rlarena.adapters.db.repositories import RankedAgent
from rlarena.bootstrap import Platform
from rlarena.domain import elo, skill
from rlarena.domain.ranking import competition_ranks
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
from rlarena.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
CONSUMER = "ratings"


def rating_event_id(match_id: uuid.UUID) -> str:
    """Deterministic, so a republished update is recognisably the same event downstream."""
    return f"rating-updated-{match_id}"


def record_result(platform: Platform, result: MatchFinished) -> RatingUpdated | None:
    """Apply a finished match once. A redelivery changes nothing but republishes the update."""
    with platform.uow() as uow:
        first_time = claim(uow, CONSUMER, EventKey("match", str(result.match_id)), EventType.MATCH_FINISHED)
        match = uow.session.scalars(select(Match).where(Match.id == result.match_id).with_for_update()).first()
        if match is None:
            raise EventRejected(f"match {result.match_id} does not exist")
        if not first_time:
            update = _stored_update(uow, match)
        elif match.status in (MatchStatus.FAILED, MatchStatus.CANCELLED):
            # The reaper or a deletion already closed this match; a late result is not rated.
            log.warning("ignoring result of match %s: it is already %s", match.id, match.status)
            uow.commit()
            return None
        else:
            update = _apply(uow, platform, match, result)
            uow.commit()
    if update is not None:
        platform.publisher.publish(
            make_event(EventType.RATING_UPDATED, Source.RATINGS, update, event_id=rating_event_id(update.match_id))
        )
    return update


def _apply(uow: UnitOfWork, platform: Platform, match: Match, result: MatchFinished) -> RatingUpdated:
    players = {match.agent1_id, match.agent2_id}
    scores = {r.agent_id: r.score for r in result.agent_results}
    if set(scores) != players:
        raise EventRejected(f"match {match.id} result names agents other than its two players")
    if result.winner_id is not None and result.winner_id not in players:
        raise EventRejected(f"match {match.id} result names a winner who did not play")
    # Lock both agents in a fixed order so concurrent results for shared agents cannot deadlock.
    agents = {
        a.id: a
        for a in uow.session.scalars(select(Agent).where(Agent.id.in_(players)).order_by(Agent.id).with_for_update())
    }
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
    return _update_event(match, changes)


def _rate(
    uow: UnitOfWork, match: Match, result: MatchFinished, first: Agent, second: Agent, *, now: datetime
) -> list[RatingChange]:
    """Elo and skill for both agents, their records, their history rows and the match's changes."""
    outcome = {a.id: 0.5 if result.winner_id is None else float(result.winner_id == a.id) for a in (first, second)}
    elo_updates = {
        first.id: elo.rate(first.elo, second.elo, outcome[first.id], first.rated_matches),
        second.id: elo.rate(second.elo, first.elo, outcome[second.id], second.rated_matches),
    }
    skills_before = {a.id: skill.Skill(mu=a.skill_mu, sigma=a.skill_sigma) for a in (first, second)}
    first_after, second_after = skill.rate(skills_before[first.id], skills_before[second.id], outcome[first.id])
    skills_after = {first.id: first_after, second.id: second_after}
    changes: list[RatingChange] = []
    history: list[dict[str, object]] = []
    for agent in (first, second):
        update, before, after = elo_updates[agent.id], skills_before[agent.id], skills_after[agent.id]
        change = RatingChange(
            agent_id=agent.id,
            user_id=agent.user_id,
            elo_before=agent.elo,
            elo_after=update.new_rating,
            elo_change=update.change,
            skill_mu_before=before.mu,
            skill_sigma_before=before.sigma,
            skill_mu_after=after.mu,
            skill_sigma_after=after.sigma,
        )
        changes.append(change)
        history.append(
            {
                "id": uuid.uuid4(),
                "agent_id": agent.id,
                "match_id": match.id,
                "elo_before": change.elo_before,
                "elo_after": change.elo_after,
                "elo_change": change.elo_change,
                "skill_mu_before": before.mu,
                "skill_sigma_before": before.sigma,
                "skill_mu_after": after.mu,
                "skill_sigma_after": after.sigma,
                "created_at": now,
            }
        )
        agent.elo = update.new_rating
        agent.skill_mu, agent.skill_sigma = after.mu, after.sigma
        agent.rated_matches += 1
        agent.total_matches += 1
        if outcome[agent.id] == 1.0:
            agent.wins += 1
        elif outcome[agent.id] == 0.0:
            agent.losses += 1
        else:
            agent.draws += 1
        agent.updated_at = now
    # Both rows in one statement (an ORM flush would send one INSERT per row through pg8000).
    uow.session.execute(insert(RatingHistory).values(history))
    match.agent1_elo_change = elo_updates[first.id].change
    match.agent2_elo_change = elo_updates[second.id].change
    match.rated_at = now
    return changes


def _stored_update(uow: UnitOfWork, match: Match) -> RatingUpdated | None:
    if match.status != MatchStatus.COMPLETED:
        return None
    rows = uow.session.execute(
        select(RatingHistory, Agent.user_id)
        .join(Agent, Agent.id == RatingHistory.agent_id)
        .where(RatingHistory.match_id == match.id)
    ).all()
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


def rating_history(platform: Platform, agent_id: uuid.UUID, query: PageQuery) -> tuple[list[RatingHistory], int]:
    """One page of the agent's rating changes, newest first, and how many there are."""
    with platform.uow() as uow:
        if uow.agents.get(agent_id) is None:
            raise NotFound(f"no agent {agent_id}")
        mine = RatingHistory.agent_id == agent_id
        total = uow.session.scalar(select(func.count()).select_from(RatingHistory).where(mine)) or 0
        rows = uow.session.scalars(
            select(RatingHistory)
            .where(mine)
            .order_by(RatingHistory.created_at.desc(), RatingHistory.id.desc())
            .offset(query.offset)
            .limit(query.page_size)
        ).all()
        return list(rows), total


def conservative_leaderboard(
    uow: UnitOfWork, environment_id: str | None, *, offset: int, limit: int
) -> tuple[list[RankedAgent], int]:
    """Ranked agents by the conservative skill estimate (mu - 3 sigma), best first; ranks are
    positions in this order (competition ranking). The same table as the Elo leaderboard."""
    conservative = Agent.skill_mu - 3 * Agent.skill_sigma
    scope: list[ColumnElement[bool]] = [Agent.deleted_at.is_(None), Agent.active_submission_id.is_not(None)]
    if environment_id:
        scope.append(Agent.environment_id == environment_id)
    session = uow.session
    total = session.scalar(select(func.count()).select_from(Agent).where(*scope)) or 0
    rows = session.execute(
        select(Agent, User.username, conservative)
        .join(User, User.id == Agent.user_id)
        .where(*scope)
        .order_by(conservative.desc(), Agent.elo.desc(), Agent.total_matches.desc(), Agent.created_at, Agent.id)
        .offset(offset)
        .limit(limit)
    ).all()
    if not rows:
        return [], total
    first_rank = None
    if offset:
        better = session.scalar(select(func.count()).select_from(Agent).where(*scope, conservative > rows[0][2]))
        first_rank = (better or 0) + 1
    ranks = competition_ranks([score for _, _, score in rows], offset=offset, first_rank=first_rank)
    return [RankedAgent(agent=a, username=u, rank=r) for (a, u, _), r in zip(rows, ranks, strict=True)], total
