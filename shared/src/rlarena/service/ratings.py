"""Rating a finished match: Elo, records and history in one transaction, exactly once."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from rlarena.adapters.db.models import Agent, Match, RatingHistory
from rlarena.bootstrap import Platform
from rlarena.domain import elo
from rlarena.domain.statuses import MatchStatus
from rlarena.errors import EventRejected
from rlarena.events.catalogue import (
    EventType,
    MatchFinished,
    RatingChange,
    RatingUpdated,
    Source,
    make_event,
)
from rlarena.events.consumer import EventKey, claim
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
    now = platform.clock()
    first, second = agents[match.agent1_id], agents[match.agent2_id]
    changes: list[RatingChange] = []
    if match.is_rated:
        outcome = {a: 0.5 if result.winner_id is None else float(result.winner_id == a) for a in players}
        updates = {
            first.id: elo.rate(first.elo, second.elo, outcome[first.id], first.rated_matches),
            second.id: elo.rate(second.elo, first.elo, outcome[second.id], second.rated_matches),
        }
        for agent in (first, second):
            update = updates[agent.id]
            changes.append(
                RatingChange(
                    agent_id=agent.id,
                    user_id=agent.user_id,
                    elo_before=agent.elo,
                    elo_after=update.new_rating,
                    elo_change=update.change,
                )
            )
            uow.session.add(
                RatingHistory(
                    agent_id=agent.id,
                    match_id=match.id,
                    elo_before=agent.elo,
                    elo_after=update.new_rating,
                    elo_change=update.change,
                    created_at=now,
                )
            )
            agent.elo = update.new_rating
            agent.rated_matches += 1
            agent.total_matches += 1
            if outcome[agent.id] == 1.0:
                agent.wins += 1
            elif outcome[agent.id] == 0.0:
                agent.losses += 1
            else:
                agent.draws += 1
            agent.updated_at = now
        match.agent1_elo_change = updates[first.id].change
        match.agent2_elo_change = updates[second.id].change
        match.rated_at = now
    match.status = MatchStatus.COMPLETED.value
    match.winner_id = result.winner_id
    match.agent1_score = scores[first.id]
    match.agent2_score = scores[second.id]
    match.replay_url = result.replay_url or match.replay_url
    match.replay_html_url = result.replay_html_url or match.replay_html_url
    match.completed_at = result.finished_at or now
    match.updated_at = now
    return _update_event(match, changes)


def _stored_update(uow: UnitOfWork, match: Match) -> RatingUpdated | None:
    if match.status != MatchStatus.COMPLETED:
        return None
    history = uow.session.scalars(select(RatingHistory).where(RatingHistory.match_id == match.id)).all()
    owner_rows = uow.session.execute(select(Agent.id, Agent.user_id).where(Agent.id.in_([h.agent_id for h in history])))
    owners = {agent_id: user_id for agent_id, user_id in owner_rows}
    changes = [
        RatingChange(
            agent_id=h.agent_id,
            user_id=owners[h.agent_id],
            elo_before=h.elo_before,
            elo_after=h.elo_after,
            elo_change=h.elo_change,
        )
        for h in sorted(history, key=lambda h: h.agent_id != match.agent1_id)
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
