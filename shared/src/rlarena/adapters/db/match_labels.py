"""Matches with what a reader needs beside the ids: each side's agent name and version.

Two statements for any number of matches (names, then versions), never one per match.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from rlarena.adapters.db.models import Agent, Match, Submission


@dataclass(frozen=True)
class LabelledMatch:
    match: Match
    agent1_name: str | None
    agent2_name: str | None
    agent1_version: int | None  # the submission version each side played with; None if unknown
    agent2_version: int | None

    @property
    def names(self) -> tuple[str | None, str | None]:
        return self.agent1_name, self.agent2_name

    @property
    def versions(self) -> tuple[int | None, int | None]:
        return self.agent1_version, self.agent2_version


def labelled(session: Session, matches: Sequence[Match]) -> list[LabelledMatch]:
    """`matches`, in order, each with its agents' names (deleted agents keep theirs) and versions."""
    agent_ids = {m.agent1_id for m in matches} | {m.agent2_id for m in matches}
    submission_ids = {s for m in matches for s in (m.agent1_submission_id, m.agent2_submission_id) if s is not None}
    names: dict[uuid.UUID, str] = {}
    versions: dict[uuid.UUID, int] = {}
    if agent_ids:
        names = {
            agent: name for agent, name in session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids)))
        }
    if submission_ids:
        found = select(Submission.id, Submission.version).where(Submission.id.in_(submission_ids))
        versions = {submission: version for submission, version in session.execute(found)}
    return [
        LabelledMatch(
            match=m,
            agent1_name=names.get(m.agent1_id),
            agent2_name=names.get(m.agent2_id),
            agent1_version=versions.get(m.agent1_submission_id) if m.agent1_submission_id else None,
            agent2_version=versions.get(m.agent2_submission_id) if m.agent2_submission_id else None,
        )
        for m in matches
    ]


def labelled_one(session: Session, match: Match) -> LabelledMatch:
    (found,) = labelled(session, [match])
    return found
