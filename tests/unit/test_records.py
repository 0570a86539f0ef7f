"""Rating one match as pure rules: records, Elo, skill and the history entries, on plain values."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from rlarena.domain import elo, records, skill
from rlarena.domain.records import InvalidResult, RatedAgent, Standing, check_result, outcome, rate_match

A, B, STRANGER = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)


def newcomer(agent_id: uuid.UUID, **changes: object) -> Standing:
    standing = Standing(
        agent_id=agent_id,
        elo=elo.INITIAL_RATING,
        skill=skill.Skill(),
        rated_matches=0,
        total_matches=0,
        wins=0,
        losses=0,
        draws=0,
    )
    return replace(standing, **changes)  # type: ignore[arg-type]


def test_outcome_is_one_for_the_winner_zero_for_the_loser_a_half_each_for_a_draw() -> None:
    assert (outcome(A, A), outcome(B, A)) == (1.0, 0.0)
    assert outcome(A, None) == outcome(B, None) == 0.5


def test_a_win_moves_elo_skill_and_records_of_both_players() -> None:
    first, second = rate_match(newcomer(A), newcomer(B), A)
    assert (first.agent_id, second.agent_id) == (A, B)
    assert (first.after.elo, second.after.elo) == (1520, 1480)
    assert (first.elo_change, second.elo_change) == (20, -20)
    assert (first.after.wins, first.after.losses, first.after.draws) == (1, 0, 0)
    assert (second.after.wins, second.after.losses, second.after.draws) == (0, 1, 0)
    for side in (first, second):
        assert (side.after.total_matches, side.after.rated_matches) == (1, 1)
    assert first.after.skill.mu > skill.DEFAULT_MU > second.after.skill.mu


def test_a_draw_counts_as_a_draw_for_both_and_moves_unequal_ratings_together() -> None:
    strong, weak = newcomer(A, elo=1700, rated_matches=30), newcomer(B, elo=1500, rated_matches=3)
    first, second = rate_match(strong, weak, None)
    assert (first.after.draws, second.after.draws) == (1, 1)
    assert first.after.wins == first.after.losses == second.after.wins == second.after.losses == 0
    assert first.elo_change < 0 < second.elo_change


def test_each_side_uses_its_own_k_and_the_same_rules_as_the_elo_module() -> None:
    veteran = newcomer(A, elo=1600, rated_matches=25, total_matches=40, wins=20, losses=15, draws=5)
    rookie = newcomer(B, elo=1450, rated_matches=12, total_matches=12, wins=6, losses=6)
    first, second = rate_match(veteran, rookie, B)
    assert first.after.elo == elo.rate(1600, 1450, 0.0, 25).new_rating
    assert second.after.elo == elo.rate(1450, 1600, 1.0, 12).new_rating
    assert first.after == replace(
        veteran, elo=first.after.elo, skill=first.after.skill, rated_matches=26, total_matches=41, losses=16
    )
    assert second.after == replace(
        rookie, elo=second.after.elo, skill=second.after.skill, rated_matches=13, total_matches=13, wins=7
    )


def test_skill_after_is_openskills_update_of_the_skill_before() -> None:
    before_a, before_b = skill.Skill(mu=28.0, sigma=4.0), skill.Skill(mu=22.0, sigma=6.0)
    first, second = rate_match(newcomer(A, skill=before_a), newcomer(B, skill=before_b), A)
    assert (first.after.skill, second.after.skill) == skill.rate(before_a, before_b, 1.0)
    assert (first.before.skill, second.before.skill) == (before_a, before_b)


def test_elo_never_goes_below_zero_and_the_change_says_what_was_applied() -> None:
    first, _ = rate_match(newcomer(A, elo=10), newcomer(B, elo=10), B)
    assert first.after.elo == 0
    assert first.elo_change == -10


def test_the_history_entry_is_the_standing_before_and_after() -> None:
    before = newcomer(A)
    side = RatedAgent(before=before, after=replace(before, elo=1512))
    assert side.agent_id == A and side.elo_change == 12


def test_record_counts_one_more_match_without_touching_ratings() -> None:
    start = newcomer(A, elo=1555, rated_matches=4, total_matches=4)
    assert records.record(start, 1.0) == replace(start, total_matches=5, wins=1)
    assert records.record(start, 0.5) == replace(start, total_matches=5, draws=1)
    assert records.record(start, 0.0) == replace(start, total_matches=5, losses=1)


def test_a_result_must_name_exactly_the_two_players_and_a_winner_among_them() -> None:
    check_result((A, B), {A, B}, None)
    check_result((A, B), {B, A}, B)
    with pytest.raises(InvalidResult, match="other than its two players"):
        check_result((A, B), {A, STRANGER}, A)
    with pytest.raises(InvalidResult, match="other than its two players"):
        check_result((A, B), {A}, A)
    with pytest.raises(InvalidResult, match="winner who did not play"):
        check_result((A, B), {A, B}, STRANGER)


def test_rating_is_pure_the_inputs_are_unchanged() -> None:
    first, second = newcomer(A), newcomer(B)
    rated = rate_match(first, second, A)
    assert (rated[0].before, rated[1].before) == (first, second) == (newcomer(A), newcomer(B))
