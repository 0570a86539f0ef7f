"""Elo exactly as the old system computed it, so scores stay comparable."""

from __future__ import annotations

import math
from dataclasses import dataclass

INITIAL_RATING = 1500


def k_factor(rated_games_before: int) -> int:
    if rated_games_before < 10:
        return 40
    if rated_games_before < 20:
        return 32
    return 24


def expected_score(rating: int, opponent: int) -> float:
    return 1.0 / (1.0 + 10 ** ((opponent - rating) / 400))


def round_half_away_from_zero(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


@dataclass(frozen=True)
class EloUpdate:
    new_rating: int
    change: int


def rate(rating: int, opponent: int, result: float, rated_games_before: int) -> EloUpdate:
    """`result` is 1 for a win, 0.5 for a draw, 0 for a loss; each side uses its own K."""
    if result not in (0.0, 0.5, 1.0):
        raise ValueError("result must be 0, 0.5 or 1")
    raw = rating + k_factor(rated_games_before) * (result - expected_score(rating, opponent))
    new_rating = max(0, round_half_away_from_zero(raw))
    return EloUpdate(new_rating=new_rating, change=new_rating - rating)
