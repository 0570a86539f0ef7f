"""Rows that later issues' functions will write (submissions, matches), inserted directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import update

from rlarena.adapters.db.models import Agent, Match, Submission
from rlarena.bootstrap import Platform
from rlarena.domain.statuses import MatchStatus, SubmissionStatus
from rlarena.events.catalogue import AgentResult, MatchFinished
from rlarena.service import ratings


def activate(platform: Platform, agent_id: str, *, elo: int | None = None) -> str:
    """Give the agent a built, active submission (and optionally a rating), as a build would."""
    now = datetime.now(UTC)
    submission_id = uuid.uuid4()
    with platform.uow() as uow:
        uow.session.add(
            Submission(
                id=submission_id,
                agent_id=uuid.UUID(agent_id),
                version=1,
                status=SubmissionStatus.ACTIVE.value,
                is_active=True,
                created_at=now,
                updated_at=now,
            )
        )
        uow.flush()
        values: dict[str, object] = {"active_submission_id": submission_id}
        if elo is not None:
            values["elo"] = elo
        uow.session.execute(update(Agent).where(Agent.id == uuid.UUID(agent_id)).values(**values))
        uow.commit()
    return str(submission_id)


def insert_match(
    platform: Platform,
    agent1_id: str,
    agent2_id: str,
    *,
    environment: str = "tic-tac-toe",
    status: MatchStatus = MatchStatus.RUNNING,
    winner_id: str | None = None,
    is_rated: bool = True,
) -> str:
    now = datetime.now(UTC)
    match_id = uuid.uuid4()
    with platform.uow() as uow:
        uow.session.add(
            Match(
                id=match_id,
                environment_id=environment,
                agent1_id=uuid.UUID(agent1_id),
                agent2_id=uuid.UUID(agent2_id),
                status=status.value,
                winner_id=uuid.UUID(winner_id) if winner_id else None,
                is_rated=is_rated,
                created_at=now,
                updated_at=now,
            )
        )
        uow.commit()
    return str(match_id)


def seed_arena(
    platform: Platform, environment: str, ratings: list[int], *, games: list[int] | None = None
) -> list[uuid.UUID]:
    """One user with one agent per rating, each with an active version, inserted in bulk."""
    from sqlalchemy import insert

    from rlarena.adapters.db.models import User

    now = datetime.now(UTC)
    owner = uuid.uuid4()
    agents = [uuid.uuid4() for _ in ratings]
    submissions = [uuid.uuid4() for _ in ratings]
    with platform.uow() as uow:
        session = uow.session
        session.execute(
            insert(User).values(
                id=owner,
                username=f"seed-{owner.hex[:12]}",
                email=f"{owner.hex[:12]}@seed.example",
                password_hash="x",
                created_at=now,
                updated_at=now,
            )
        )
        session.execute(
            insert(Agent),
            [
                {
                    "id": agent,
                    "user_id": owner,
                    "environment_id": environment,
                    "name": f"agent-{index}",
                    "elo": rating,
                    "total_matches": games[index] if games else 0,
                    "rated_matches": games[index] if games else 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for index, (agent, rating) in enumerate(zip(agents, ratings, strict=True))
            ],
        )
        session.execute(
            insert(Submission),
            [
                {
                    "id": submission,
                    "agent_id": agent,
                    "version": 1,
                    "status": SubmissionStatus.ACTIVE.value,
                    "is_active": True,
                    "docker_image_url": "local:///nonexistent",
                    "entry_point": "agent.py",
                    "created_at": now,
                    "updated_at": now,
                }
                for agent, submission in zip(agents, submissions, strict=True)
            ],
        )
        session.execute(
            update(Agent),
            [{"id": a, "active_submission_id": s} for a, s in zip(agents, submissions, strict=True)],
        )
        uow.commit()
    return agents


def play(platform: Platform, a: str, b: str, winner: str | None, *, is_rated: bool = True) -> str:
    match_id = insert_match(platform, a, b, is_rated=is_rated)
    score = 0.5 if winner is None else float(winner == a)
    ratings.record_result(
        platform,
        MatchFinished(
            match_id=uuid.UUID(match_id),
            environment_id="tic-tac-toe",
            winner_id=uuid.UUID(winner) if winner else None,
            agent_results=[
                AgentResult(agent_id=uuid.UUID(a), score=score),
                AgentResult(agent_id=uuid.UUID(b), score=1.0 - score),
            ],
        ),
    )
    return match_id
