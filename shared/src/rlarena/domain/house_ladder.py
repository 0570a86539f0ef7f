"""What seeding the house agents has to do: pure rules, no I/O.

From what the platform ships (each house agent's game, name and the sha256 of its code) and what
the ladder holds (each live house agent, its newest version and whether it plays), the steps that
bring the ladder in line: create the missing agents, submit changed code as a new version, put a
built version back in play after HOUSE_AGENTS was off, and take off the ladder every house agent
that should not play (HOUSE_AGENTS off, or no longer shipped). Nothing to do is the usual answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from rlarena.domain.statuses import SubmissionStatus


@dataclass(frozen=True)
class Shipped:
    """A house agent the platform ships."""

    game: str
    name: str
    sha256: str  # of its code as submitted (rlarena.house.packaging)


@dataclass(frozen=True)
class OnLadder:
    """A live house agent as the database has it."""

    agent_id: uuid.UUID
    game: str
    name: str
    playing: bool  # it has an active version
    queued: bool  # it has a matchmaking queue entry
    newest_submission_id: uuid.UUID | None = None
    newest_sha256: str | None = None
    newest_status: str | None = None
    newest_built: bool = False  # its build finished (it validated, whatever came after)


@dataclass(frozen=True)
class SeedingPlan:
    create: list[Shipped] = field(default_factory=list)  # then submit their code
    submit: list[tuple[uuid.UUID, Shipped]] = field(default_factory=list)  # code changed
    reactivate: list[OnLadder] = field(default_factory=list)  # built, switched off earlier
    retire: list[OnLadder] = field(default_factory=list)  # off matchmaking and the leaderboards

    @property
    def is_empty(self) -> bool:
        return not (self.create or self.submit or self.reactivate or self.retire)


def plan_seeding(shipped: Sequence[Shipped], ladder: Sequence[OnLadder], *, enabled: bool) -> SeedingPlan:
    """The steps from `ladder` to every shipped agent playing its shipped code (`enabled`), or to
    no house agent playing (not `enabled`)."""
    plan = SeedingPlan()
    wanted = {(s.game, s.name): s for s in shipped} if enabled else {}
    for agent in ladder:
        if (agent.game, agent.name) not in wanted and (agent.playing or agent.queued):
            plan.retire.append(agent)
    present = {(a.game, a.name): a for a in ladder}
    for key, code in wanted.items():
        found = present.get(key)
        if found is None:
            plan.create.append(code)
        elif found.newest_sha256 != code.sha256:
            plan.submit.append((found.agent_id, code))
        elif not found.playing and found.newest_built and found.newest_status == SubmissionStatus.INACTIVE:
            plan.reactivate.append(found)
    return plan
