"""The skill estimate beside Elo: openskill's Plackett-Luce model, behind a small domain module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rlarena.domain.skill import DEFAULT_MU, DEFAULT_SIGMA, Skill, rate
from tests.conftest import ROOT


def test_a_newcomer_starts_at_openskills_defaults_with_a_conservative_score_of_zero() -> None:
    newcomer = Skill()
    assert (newcomer.mu, newcomer.sigma) == (25.0, 25.0 / 3) == (DEFAULT_MU, DEFAULT_SIGMA)
    assert newcomer.conservative == pytest.approx(0.0)


def test_conservative_is_mu_minus_three_sigma() -> None:
    assert Skill(mu=30.0, sigma=2.5).conservative == 22.5


def test_a_win_moves_the_estimates_apart_and_makes_both_surer() -> None:
    winner, loser = rate(Skill(), Skill(), 1.0)
    assert winner.mu > DEFAULT_MU > loser.mu
    assert winner.mu - DEFAULT_MU == pytest.approx(DEFAULT_MU - loser.mu)
    assert winner.sigma < DEFAULT_SIGMA and loser.sigma < DEFAULT_SIGMA
    assert winner.conservative > loser.conservative


def test_a_draw_between_equals_keeps_mu_and_shrinks_sigma() -> None:
    a, b = rate(Skill(), Skill(), 0.5)
    assert a.mu == pytest.approx(DEFAULT_MU) and b.mu == pytest.approx(DEFAULT_MU)
    assert a.sigma < DEFAULT_SIGMA and a.sigma == pytest.approx(b.sigma)


def test_a_draw_against_a_stronger_agent_raises_the_weaker_one() -> None:
    weak, strong = rate(Skill(mu=20.0, sigma=4.0), Skill(mu=30.0, sigma=4.0), 0.5)
    assert weak.mu > 20.0 and strong.mu < 30.0


def test_the_rating_does_not_depend_on_which_side_is_listed_first() -> None:
    first, second = Skill(mu=27.0, sigma=5.0), Skill(mu=22.0, sigma=7.0)
    won, lost = rate(first, second, 1.0)
    lost_again, won_again = rate(second, first, 0.0)
    assert (won, lost) == (won_again, lost_again)


def test_an_upset_moves_ratings_more_than_an_expected_result() -> None:
    favourite, underdog = Skill(mu=30.0, sigma=3.0), Skill(mu=20.0, sigma=3.0)
    expected_gain = rate(favourite, underdog, 1.0)[0].mu - favourite.mu
    upset_gain = rate(underdog, favourite, 1.0)[0].mu - underdog.mu
    assert upset_gain > expected_gain > 0


def test_the_same_inputs_give_the_same_outputs() -> None:
    assert rate(Skill(26.1, 7.3), Skill(24.2, 6.1), 1.0) == rate(Skill(26.1, 7.3), Skill(24.2, 6.1), 1.0)


@pytest.mark.parametrize("result", [2.0, -1.0, 0.25])
def test_a_result_other_than_win_draw_or_loss_is_refused(result: float) -> None:
    with pytest.raises(ValueError, match="result must be"):
        rate(Skill(), Skill(), result)


def test_openskill_is_not_imported_until_the_first_rating() -> None:
    code = (
        "import sys\n"
        "import rlarena.domain.skill, rlarena.entrypoints.views\n"
        "assert 'openskill' not in sys.modules, 'imported at import time'\n"
        "from rlarena.domain.skill import Skill, rate\n"
        "rate(Skill(), Skill(), 1.0)\n"
        "assert 'openskill' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
