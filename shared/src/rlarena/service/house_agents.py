"""Seeding the house agents: every game's ladder holds the agents the platform ships (HOUSE_AGENTS).

They are ordinary agents owned by a system user ("[house]", which nobody can register or log in
as, so no API call can change them), named "<name> (<game>)" with `house_name` = the catalogue
name. Their code goes the way of any upload (the intake checks, storage, the build queue and its
validation match; `submissions.submit_shipped_code`), and when the shipped folder changes (its
zip's sha256) a new version is submitted. With HOUSE_AGENTS=false they are taken off the ladder:
no active version (so no leaderboard lists them), no queue entry; their history stays, and turning
the setting on again puts their built version back in play.

Run on the local platform's start and on the build tick (the PingSource), where uploads are
checked and stored. Idempotent and safe when two run at once: a lost race to create an agent or
the owner is a unique violation taken as "already there", and a version is submitted only if the
agent's newest one (read under its lock) holds other code. When nothing changed it costs one
query and hashing a few small files.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from rlarena.adapters.db import house_queries, matchmaking_queries, submission_queries
from rlarena.adapters.db.models import Agent
from rlarena.domain.house_ladder import OnLadder, SeedingPlan, Shipped, plan_seeding
from rlarena.environments.registry import REGISTRATIONS
from rlarena.errors import RLArenaError, ServiceUnavailable
from rlarena.house.catalogue import HOUSE_AGENTS, HouseAgent
from rlarena.house.packaging import ShippedCode, shipped_code
from rlarena.service import submissions
from rlarena.service.submissions import SubmissionsPlatform

log = logging.getLogger(__name__)

HOUSE_USERNAME = "[house]"
HOUSE_EMAIL = "house@rlarena"
TURNED_OFF = "house agents are turned off (HOUSE_AGENTS=false) or this one is no longer shipped"


@dataclass(frozen=True)
class SeedingReport:
    created: int = 0
    submitted: int = 0
    reactivated: int = 0
    retired: int = 0


def agent_name(house: HouseAgent) -> str:
    """Unique among the house user's agents (the same name plays several games)."""
    return f"{house.name} ({house.game})"


def seed(platform: SubmissionsPlatform, catalogue: Sequence[HouseAgent] = HOUSE_AGENTS) -> SeedingReport:
    """Bring every game's house agents in line with what the platform ships and HOUSE_AGENTS."""
    enabled = platform.settings.house_agents
    code = _shipped(catalogue) if enabled else {}
    with platform.uow() as uow:
        ladder = house_queries.house_ladder(uow.session)
    plan = plan_seeding([Shipped(h.game, h.name, c.sha256) for h, c in code.values()], ladder, enabled=enabled)
    if plan.is_empty:
        return SeedingReport()
    report = _carry_out(platform, plan, code)
    log.info("house agents: %s", report)
    return report


def _shipped(catalogue: Sequence[HouseAgent]) -> dict[tuple[str, str], tuple[HouseAgent, ShippedCode]]:
    """The house agents whose code is there, for the games this platform runs."""
    games = {registration.spec.id for registration in REGISTRATIONS}
    found = {}
    for house in catalogue:
        code = shipped_code(house) if house.game in games else None
        if code is not None:
            found[(house.game, house.name)] = (house, code)
    return found


def _carry_out(
    platform: SubmissionsPlatform, plan: SeedingPlan, code: dict[tuple[str, str], tuple[HouseAgent, ShippedCode]]
) -> SeedingReport:
    for agent in plan.retire:
        _retire(platform, agent)
    submit = list(plan.submit)
    created = 0
    if plan.create:
        owner = _house_user(platform)
        for wanted in plan.create:
            agent_id, made = _create(platform, owner, code[(wanted.game, wanted.name)][0])
            created += made
            if agent_id is not None:
                submit.append((agent_id, wanted))
    submitted = sum(_submit(platform, agent_id, code[(w.game, w.name)][1]) for agent_id, w in submit)
    reactivated = sum(_reactivate(platform, agent) for agent in plan.reactivate)
    return SeedingReport(created, submitted, reactivated, len(plan.retire))


def _house_user(platform: SubmissionsPlatform) -> uuid.UUID:
    with platform.uow() as uow:
        found = house_queries.user_id_named(uow.session, HOUSE_USERNAME)
        if found is not None:
            return found
        house_queries.add_system_user(uow.session, HOUSE_USERNAME, HOUSE_EMAIL, "House agents", platform.clock())
        uow.commit_unique()  # lost to a concurrent seeder: theirs is the one
    with platform.uow() as uow:
        found = house_queries.user_id_named(uow.session, HOUSE_USERNAME)
    if found is None:  # neither this seeder's commit nor a concurrent one's: the next tick tries again
        raise ServiceUnavailable("the house agents' owner could not be created")
    return found


def _create(platform: SubmissionsPlatform, owner: uuid.UUID, house: HouseAgent) -> tuple[uuid.UUID | None, int]:
    """The agent's id (created now, or by a concurrent seeder) and 1 if this call created it."""
    now = platform.clock()
    with platform.uow() as uow:
        environment = uow.environments.get(house.game)
        if environment is None or not environment.is_active:
            return None, 0
        agent = Agent(
            id=uuid.uuid4(),
            user_id=owner,
            environment_id=house.game,
            name=agent_name(house),
            description=house.description,
            house_name=house.name,
            created_at=now,
            updated_at=now,
        )
        uow.agents.add(agent)
        if uow.commit_unique():
            return agent.id, 1
    with platform.uow() as uow:  # a concurrent seeder created it: submit to theirs (once, see above)
        ladder = house_queries.house_ladder(uow.session)
    theirs = [a.agent_id for a in ladder if (a.game, a.name) == (house.game, house.name)]
    return (theirs[0] if theirs else None), 0


def _submit(platform: SubmissionsPlatform, agent_id: uuid.UUID, code: ShippedCode) -> int:
    try:
        view = submissions.submit_shipped_code(platform, agent_id, code.filename, code.data)
    except RLArenaError as error:  # the check could not run, or the shipped code is broken: say so, go on
        log.error("house agent %s: its code was not submitted: %s", code.filename, error.message)
        return 0
    return 0 if view is None else 1


def _reactivate(platform: SubmissionsPlatform, house: OnLadder) -> int:
    """Its newest version, built and switched off earlier, plays again (and queues)."""
    now = platform.clock()
    if house.newest_submission_id is None:
        return 0
    with platform.uow() as uow:
        agent = uow.agents.get(house.agent_id)
        newest = submission_queries.get_submission(uow.session, house.newest_submission_id)
        if agent is None or newest is None or agent.active_submission_id is not None:
            return 0
        submissions.make_active(uow, agent, newest, now)
        uow.flush()
        matchmaking_queries.add_to_queue(uow.session, agent.id, now)
        uow.commit()
    return 1


def _retire(platform: SubmissionsPlatform, house: OnLadder) -> None:
    with platform.uow() as uow:
        house_queries.take_off_ladder(uow.session, house.agent_id, TURNED_OFF, platform.clock())
        uow.commit()
