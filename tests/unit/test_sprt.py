"""The SPRT of `rlarena compare` and the score statistics of `rlarena play`, on known cases."""

from __future__ import annotations

import math

import pytest

from rlarena.authoring.score_stats import elo_of, estimate, expected_score
from rlarena.authoring.sprt import Sprt, SprtParameters, Verdict, log_likelihood_ratio, pair_index

S0, S1 = expected_score(0), expected_score(10)  # 0.5 and 0.51439


def _pairs_until_decided(first: float, second: float, most: int = 1000) -> tuple[int, Verdict]:
    test = Sprt()
    for pairs in range(1, most + 1):
        test.add_pair(first, second)
        if test.verdict is not Verdict.UNDECIDED:
            return pairs, test.verdict
    return most, test.verdict


def test_the_bounds_are_walds_for_alpha_and_beta() -> None:
    parameters = SprtParameters(alpha=0.05, beta=0.05)
    assert parameters.lower == pytest.approx(math.log(0.05 / 0.95))
    assert parameters.upper == pytest.approx(-math.log(0.05 / 0.95)) == pytest.approx(2.944439)
    assert SprtParameters(alpha=0.01, beta=0.1).upper == pytest.approx(math.log(0.9 / 0.01))


def test_a_pair_lands_in_its_pentanomial_slot() -> None:
    assert [pair_index(1, 1), pair_index(1, 0.5), pair_index(1, 0), pair_index(0.5, 0), pair_index(0, 0)] == [
        4,
        3,
        2,
        1,
        0,
    ]
    assert pair_index(0.5, 0.5) == pair_index(0, 1) == 2


def test_all_wins_accepts_h1_as_soon_as_the_bernoulli_likelihood_ratio_passes_the_bound() -> None:
    # With only wins seen, the most likely distributions put NEW's whole mean on winning pairs:
    # each pair multiplies the ratio by s1 / s0, so it takes ceil(upper / ln(s1 / s0)) pairs.
    expected = math.ceil(SprtParameters().upper / math.log(S1 / S0))
    pairs, verdict = _pairs_until_decided(1, 1)
    assert verdict is Verdict.STRONGER
    assert expected - 1 <= pairs <= expected  # 104, give or take the epsilon floor
    assert pairs < 110


def test_all_losses_accept_h0_and_say_new_is_weaker() -> None:
    expected = math.ceil(SprtParameters().lower / math.log((1 - S1) / (1 - S0)))
    pairs, verdict = _pairs_until_decided(0, 0)
    assert verdict is Verdict.WEAKER
    assert expected - 1 <= pairs <= expected


def test_even_results_stay_undecided_for_a_small_number_of_pairs() -> None:
    for first, second in ((0.5, 0.5), (1, 0), (0, 1)):
        test = Sprt()
        for _ in range(30):
            test.add_pair(first, second)
        assert test.verdict is Verdict.UNDECIDED
        assert SprtParameters().lower < test.llr < 0
    swings = Sprt()
    for _ in range(50):  # NEW wins one pair outright and loses the next: even, but noisy
        swings.add_pair(1, 1)
        swings.add_pair(0, 0)
    assert swings.verdict is Verdict.UNDECIDED


def test_equal_agents_end_not_stronger_rather_than_weaker() -> None:
    pairs, verdict = _pairs_until_decided(0.5, 0.5)
    assert verdict is Verdict.NOT_STRONGER
    assert 30 < pairs < 200  # only drawn pairs: the same evidence as a coin, slowly against elo1


def test_llr_on_wins_and_losses_only_is_the_bernoulli_log_likelihood_ratio() -> None:
    # Computed by hand: 40 ln(s1 / s0) + 30 ln((1 - s1) / (1 - s0)) = 1.13488 - 0.87605 = 0.25883.
    assert log_likelihood_ratio([30, 0, 0, 0, 40], 0, 10) == pytest.approx(0.25883, abs=1e-3)


def test_llr_on_many_mixed_pairs_matches_the_normal_approximation() -> None:
    counts = [10, 40, 100, 50, 20]  # mean 0.5227, variance 0.05186 per pair
    total = sum(counts)
    mean = sum(score * count for score, count in zip((0, 0.25, 0.5, 0.75, 1), counts, strict=True)) / total
    variance = sum(count * (score - mean) ** 2 for score, count in zip((0, 0.25, 0.5, 0.75, 1), counts, strict=True))
    variance /= total
    approximation = total * (S1 - S0) * (2 * mean - S0 - S1) / (2 * variance)
    assert approximation == pytest.approx(1.4554, abs=1e-3)
    assert log_likelihood_ratio(counts, 0, 10) == pytest.approx(approximation, rel=0.02)


def test_no_pairs_is_no_evidence_and_bad_input_is_refused() -> None:
    assert log_likelihood_ratio([0, 0, 0, 0, 0], 0, 10) == 0.0
    with pytest.raises(ValueError, match="five"):
        log_likelihood_ratio([1, 2, 3], 0, 10)
    with pytest.raises(ValueError, match="alpha"):
        SprtParameters(alpha=0)
    with pytest.raises(ValueError, match="elo1"):
        SprtParameters(elo0=5, elo1=5)


def test_the_score_estimate_uses_the_results_own_variance() -> None:
    score = estimate({1.0: 7, 0.5: 2, 0.0: 1})
    # mean 0.8; variance (7 * 0.04 + 2 * 0.09 + 0.64) / 10 = 0.11; margin 1.96 * sqrt(0.011) = 0.2056
    assert score.mean == pytest.approx(0.8)
    assert score.low == pytest.approx(0.8 - 0.20556, abs=1e-4)
    assert score.high == pytest.approx(1.0)  # clipped
    assert score.elo == pytest.approx(240.82, abs=0.01)
    assert elo_of(0.5) == 0 and elo_of(1.0) == math.inf and elo_of(0.0) == -math.inf
    assert expected_score(elo_of(0.3)) == pytest.approx(0.3)


def test_identical_results_get_wilsons_interval_instead_of_none() -> None:
    # Ten wins: Wilson's lower bound n / (n + z^2) = 10 / 13.8415 = 0.7225, the upper one 1.
    all_wins = estimate({1.0: 10})
    assert all_wins.mean == 1.0
    assert all_wins.low == pytest.approx(0.7225, abs=1e-4)
    assert all_wins.high == pytest.approx(1.0)
    # Four draws: centre 0.5, margin 1.96 * sqrt(1/16 + z^2/64) / (1 + z^2/4) = 0.3500.
    assert estimate({0.5: 4}).low == pytest.approx(0.1500, abs=1e-3)
