"""Why a match ended, in words: the game's reason, or the failing agents by name and kind."""

from __future__ import annotations

from rlarena.domain.end_reasons import (
    REASON_CAP,
    SideEnd,
    agent_status,
    cancelled_reason,
    failed_reason,
    finished_reason,
)


def test_a_game_that_ran_its_course_ends_for_the_games_reason() -> None:
    assert finished_reason("checkmate", [SideEnd("a", "OK"), SideEnd("b", "OK")]) == "checkmate"
    assert finished_reason(None, [SideEnd("a", "OK"), SideEnd("b", "")]) is None  # an old result: unknown


def test_a_failing_agent_is_named_with_its_kind_and_the_first_line_of_what_happened() -> None:
    sides = [SideEnd("deep-blue", "TIMEOUT", "no action within 5 s plus its overage bank\nmore"), SideEnd("b", "OK")]
    reason = finished_reason("TIMEOUT by 1f0c...: no action", sides)
    assert reason == "TIMEOUT by deep-blue: no action within 5 s plus its overage bank"


def test_both_failing_in_one_step_says_so_and_an_unknown_status_is_an_error() -> None:
    sides = [SideEnd("a", "INVALID", "the action 99 is not legal"), SideEnd("b", "EXPLODED", None)]
    assert finished_reason("", sides) == (
        "every agent failed in the same step: INVALID by a: the action 99 is not legal; ERROR by b"
    )
    assert [agent_status(s) for s in ("OK", "TIMEOUT", None, "weird")] == ["OK", "TIMEOUT", "OK", "ERROR"]


def test_reasons_fit_their_column_whatever_an_agent_says() -> None:
    long = finished_reason("", [SideEnd("x" * 400, "ERROR", "y" * 10_000), SideEnd("b", "OK")])
    assert long is not None and len(long) == REASON_CAP
    assert len(failed_reason("z" * 10_000)) <= REASON_CAP
    assert failed_reason("") == "platform error: unknown"
    assert cancelled_reason("an agent was deleted") == "cancelled: an agent was deleted"
