"""The score of a series of games, its confidence interval and the Elo difference it implies.

Pure arithmetic. A result is a score in [0, 1] for the first agent: one game (0, 0.5, 1) or the
mean of a pair of games (0, 0.25, 0.5, 0.75, 1). The interval is the normal one on the mean of the
results, with the results' own variance (draws and paired games make it narrower than a coin's);
when every result is the same that variance is 0, so the interval is then Wilson's for as many
coin flips (10 wins out of 10: 0.72 to 1, not 1 to 1).
Elo follows the logistic model, expected score = 1 / (1 + 10 ** (-elo / 400)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

Z_95 = 1.959964  # the two-sided 95% quantile of the normal distribution


def expected_score(elo: float) -> float:
    return 1.0 / (1.0 + math.pow(10.0, -elo / 400.0))


def elo_of(score: float) -> float:
    """The Elo difference whose expected score is `score`; +-inf at 1 and 0."""
    if score >= 1.0:
        return math.inf
    if score <= 0.0:
        return -math.inf
    return -400.0 * math.log10(1.0 / score - 1.0)


@dataclass(frozen=True)
class ScoreEstimate:
    samples: int  # games, or pairs of games
    mean: float  # the first agent's mean score
    low: float  # the 95% interval on the mean, clipped to [0, 1]
    high: float

    @property
    def elo(self) -> float:
        return elo_of(self.mean)

    @property
    def elo_low(self) -> float:
        return elo_of(self.low)

    @property
    def elo_high(self) -> float:
        return elo_of(self.high)


def estimate(counts: Mapping[float, float]) -> ScoreEstimate:
    """From how many times each score was seen, e.g. {1.0: 7, 0.5: 2, 0.0: 1}."""
    total = sum(counts.values())
    if total <= 0:
        raise ValueError("no results to estimate a score from")
    mean = sum(score * count for score, count in counts.items()) / total
    variance = sum(count * (score - mean) ** 2 for score, count in counts.items()) / total
    if variance == 0:
        return _wilson(total, mean)
    margin = Z_95 * math.sqrt(variance / total)
    return ScoreEstimate(samples=round(total), mean=mean, low=max(mean - margin, 0.0), high=min(mean + margin, 1.0))


def _wilson(samples: float, mean: float) -> ScoreEstimate:
    z2 = Z_95 * Z_95
    centre = (mean + z2 / (2 * samples)) / (1 + z2 / samples)
    margin = Z_95 * math.sqrt(mean * (1 - mean) / samples + z2 / (4 * samples * samples)) / (1 + z2 / samples)
    return ScoreEstimate(
        samples=round(samples), mean=mean, low=max(centre - margin, 0.0), high=min(centre + margin, 1.0)
    )


def describe_elo(value: float) -> str:
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:+.0f}"
