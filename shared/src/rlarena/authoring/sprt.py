"""A sequential probability ratio test on paired games: is NEW stronger than OLD?

As chess engine testers do (fishtest's GSPRT, by Michel Van den Bergh): games come in pairs on
the same seed with sides swapped, and each pair scores NEW 0, 1/4, 1/2, 3/4 or 1 (the pentanomial:
pairing cancels most of the luck of the opening or the serve). The hypotheses are about the Elo
difference on the logistic model: H0 "NEW - OLD = elo0" against H1 "= elo1". For each, the
likelihood of the pairs seen is maximised over every distribution of pair scores whose mean is the
score that Elo predicts (a one-dimensional root, found by bisection); the log of their ratio is
the LLR. Each count is floored at a small epsilon so that an outcome never seen so far still
counts as possible (fishtest does the same): without it, all wins would look infinitely likely.

The test stops as soon as the LLR leaves (lower, upper) = (ln(beta / (1 - alpha)), ln((1 - beta) /
alpha)): above, H1 is accepted (false positive rate alpha); below, H0 is (false negative rate
beta). Pure arithmetic: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from rlarena.authoring.score_stats import ScoreEstimate, estimate, expected_score

PAIR_SCORES = (0.0, 0.25, 0.5, 0.75, 1.0)
EPSILON = 1e-3  # the floor of each count (fishtest's regularisation)
_BISECTIONS = 200


class Verdict(Enum):
    STRONGER = "NEW is stronger"  # H1 accepted
    WEAKER = "NEW is weaker"  # H0 accepted and NEW scored under half
    NOT_STRONGER = "NEW is not stronger"  # H0 accepted although NEW scored half or more
    UNDECIDED = "can't tell yet"


@dataclass(frozen=True)
class SprtParameters:
    elo0: float = 0.0
    elo1: float = 10.0
    alpha: float = 0.05
    beta: float = 0.05

    def __post_init__(self) -> None:
        if not (0 < self.alpha < 1 and 0 < self.beta < 1):
            raise ValueError("alpha and beta must lie strictly between 0 and 1")
        if self.elo1 <= self.elo0:
            raise ValueError("elo1 must be greater than elo0")

    @property
    def lower(self) -> float:
        return math.log(self.beta / (1 - self.alpha))

    @property
    def upper(self) -> float:
        return math.log((1 - self.beta) / self.alpha)


def pair_index(first: float, second: float) -> int:
    """The pentanomial slot of a pair from NEW's two game scores (each 0, 0.5 or 1)."""
    return round(2 * (first + second))


def log_likelihood_ratio(counts: list[int] | tuple[int, ...], elo0: float, elo1: float) -> float:
    """The GSPRT's LLR of H1 (elo1) against H0 (elo0) for pentanomial `counts` (5 of them)."""
    if len(counts) != len(PAIR_SCORES) or any(count < 0 for count in counts):
        raise ValueError("counts are five non-negative numbers of pairs scoring 0, 1/4, 1/2, 3/4 and 1")
    if sum(counts) == 0:
        return 0.0
    floored = [max(float(count), EPSILON) for count in counts]
    total = sum(floored)
    observed = [count / total for count in floored]
    under_h0 = _most_likely_with_mean(observed, expected_score(elo0))
    under_h1 = _most_likely_with_mean(observed, expected_score(elo1))
    return total * sum(p * math.log(p1 / p0) for p, p0, p1 in zip(observed, under_h0, under_h1, strict=True))


def _most_likely_with_mean(observed: list[float], mean: float) -> list[float]:
    """The distribution over PAIR_SCORES with this mean that makes `observed` most likely.

    It is observed[i] / (1 + x * (score[i] - mean)) for the x that gives the mean (a Lagrange
    multiplier); the mean condition is strictly decreasing in x between the poles, so bisect.
    """
    shifted = [score - mean for score in PAIR_SCORES]
    low, high = -1.0 / max(shifted), -1.0 / min(shifted)

    def excess(x: float) -> float:
        return sum(p * a / (1 + x * a) for p, a in zip(observed, shifted, strict=True))

    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if excess(middle) > 0:
            low = middle
        else:
            high = middle
    x = (low + high) / 2
    return [p / (1 + x * a) for p, a in zip(observed, shifted, strict=True)]


@dataclass
class Sprt:
    """The test as pairs arrive: `add_pair`, then read `verdict` and the figures."""

    parameters: SprtParameters = field(default_factory=SprtParameters)
    counts: list[int] = field(default_factory=lambda: [0] * len(PAIR_SCORES))

    def add_pair(self, first: float, second: float) -> None:
        self.counts[pair_index(first, second)] += 1

    @property
    def pairs(self) -> int:
        return sum(self.counts)

    @property
    def llr(self) -> float:
        return log_likelihood_ratio(self.counts, self.parameters.elo0, self.parameters.elo1)

    @property
    def verdict(self) -> Verdict:
        llr = self.llr
        if llr >= self.parameters.upper:
            return Verdict.STRONGER
        if llr <= self.parameters.lower:
            return Verdict.WEAKER if self.score().mean < 0.5 else Verdict.NOT_STRONGER
        return Verdict.UNDECIDED

    def score(self) -> ScoreEstimate:
        """NEW's mean score per game with its 95% interval (from the pairs' variance)."""
        return estimate(dict(zip(PAIR_SCORES, self.counts, strict=True)))
