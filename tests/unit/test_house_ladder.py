"""What seeding the house agents has to do, from what is shipped and what the ladder holds."""

from __future__ import annotations

import uuid

from rlarena.domain.house_ladder import OnLadder, SeedingPlan, Shipped, plan_seeding
from rlarena.domain.statuses import SubmissionStatus

RANDOM = Shipped("tic-tac-toe", "random", "a" * 64)
NEGAMAX = Shipped("tic-tac-toe", "negamax", "b" * 64)


def on_ladder(
    code: Shipped,
    *,
    sha256: str | None = None,
    playing: bool = True,
    queued: bool = True,
    status: SubmissionStatus = SubmissionStatus.ACTIVE,
    built: bool = True,
) -> OnLadder:
    return OnLadder(
        agent_id=uuid.uuid5(uuid.NAMESPACE_URL, code.name),
        game=code.game,
        name=code.name,
        playing=playing,
        queued=queued,
        newest_submission_id=uuid.uuid4(),
        newest_sha256=sha256 or code.sha256,
        newest_status=status.value,
        newest_built=built,
    )


def test_an_empty_ladder_gets_every_shipped_agent() -> None:
    assert plan_seeding([RANDOM, NEGAMAX], [], enabled=True) == SeedingPlan(create=[RANDOM, NEGAMAX])


def test_nothing_to_do_when_the_ladder_plays_the_shipped_code() -> None:
    plan = plan_seeding([RANDOM, NEGAMAX], [on_ladder(RANDOM), on_ladder(NEGAMAX)], enabled=True)
    assert plan.is_empty


def test_a_version_still_building_or_failed_with_the_same_code_is_left_alone() -> None:
    building = on_ladder(RANDOM, playing=False, status=SubmissionStatus.BUILDING, built=False)
    failed = on_ladder(NEGAMAX, playing=False, status=SubmissionStatus.FAILED, built=True)
    assert plan_seeding([RANDOM, NEGAMAX], [building, failed], enabled=True).is_empty


def test_changed_code_is_submitted_to_the_existing_agent() -> None:
    old = on_ladder(RANDOM, sha256="c" * 64)
    assert plan_seeding([RANDOM], [old], enabled=True) == SeedingPlan(submit=[(old.agent_id, RANDOM)])


def test_turned_off_every_house_agent_that_plays_or_waits_leaves_the_ladder() -> None:
    playing, queued_only = on_ladder(RANDOM), on_ladder(NEGAMAX, playing=False)
    assert plan_seeding([RANDOM, NEGAMAX], [playing, queued_only], enabled=False) == SeedingPlan(
        retire=[playing, queued_only]
    )
    gone = on_ladder(RANDOM, playing=False, queued=False, status=SubmissionStatus.INACTIVE)
    assert plan_seeding([RANDOM], [gone], enabled=False).is_empty


def test_turned_on_again_a_built_version_plays_again_without_a_rebuild() -> None:
    off = on_ladder(RANDOM, playing=False, queued=False, status=SubmissionStatus.INACTIVE)
    assert plan_seeding([RANDOM], [off], enabled=True) == SeedingPlan(reactivate=[off])


def test_a_house_agent_no_longer_shipped_leaves_the_ladder() -> None:
    dropped = on_ladder(NEGAMAX)
    assert plan_seeding([RANDOM], [on_ladder(RANDOM), dropped], enabled=True) == SeedingPlan(retire=[dropped])
