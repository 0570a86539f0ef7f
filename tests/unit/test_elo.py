"""Elo as the seed contract defines it."""

from __future__ import annotations

import pytest

from rlarena.domain.elo import expected_score, k_factor, rate, round_half_away_from_zero


@pytest.mark.parametrize(("games", "k"), [(0, 40), (9, 40), (10, 32), (19, 32), (20, 24), (500, 24)])
def test_k_depends_on_the_agents_own_rated_games(games: int, k: int) -> None:
    assert k_factor(games) == k


def test_equal_ratings_expect_half() -> None:
    assert expected_score(1500, 1500) == 0.5
    assert expected_score(1900, 1500) == pytest.approx(1 / (1 + 10 ** (-1)))


def test_rounding_is_half_away_from_zero() -> None:
    assert [round_half_away_from_zero(x) for x in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999)] == [1, 2, 3, -1, -2, 2]


def test_a_win_between_equals_moves_each_side_by_half_k() -> None:
    assert rate(1500, 1500, 1.0, 0).change == 20
    assert rate(1500, 1500, 0.0, 0).change == -20
    assert rate(1500, 1500, 1.0, 15).change == 16
    assert rate(1500, 1500, 0.0, 25).change == -12


def test_each_side_uses_its_own_k_so_the_sum_is_not_conserved() -> None:
    newcomer = rate(1500, 1500, 1.0, 0)
    veteran = rate(1500, 1500, 0.0, 30)
    assert (newcomer.change, veteran.change) == (20, -12)


def test_a_draw_moves_the_stronger_side_down() -> None:
    stronger = rate(1700, 1500, 0.5, 30)
    weaker = rate(1500, 1700, 0.5, 30)
    # 24 * (0.5 - 0.7597) = -6.23 -> -6 ; +6.23 -> +6
    assert (stronger.change, weaker.change) == (-6, 6)


def test_ratings_never_go_below_zero() -> None:
    assert rate(15, 15, 0.0, 0).new_rating == 0
    assert rate(15, 15, 0.0, 0).change == -15


def test_results_other_than_win_draw_loss_are_refused() -> None:
    with pytest.raises(ValueError, match="result"):
        rate(1500, 1500, 0.7, 0)
