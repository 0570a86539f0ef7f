"""Competition ranking: ties share a rank and the next rank skips (1, 1, 3)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class LeaderboardOrder(StrEnum):
    """What a leaderboard is sorted by: Elo (the default the old clients expect) or the skill
    estimate's conservative score (mu - 3 sigma)."""

    ELO = "elo"
    CONSERVATIVE = "conservative"


def competition_ranks(
    scores_descending: Sequence[float], *, offset: int = 0, first_rank: int | None = None
) -> list[int]:
    """Ranks for one page of scores sorted best first.

    `offset` is the absolute position of the page's first item; `first_rank` is that item's rank
    when it ties with items on an earlier page (1 + how many scores beat it).
    """
    ranks: list[int] = []
    for position, score in enumerate(scores_descending):
        if position == 0:
            ranks.append(first_rank if first_rank is not None else offset + 1)
        elif score == scores_descending[position - 1]:
            ranks.append(ranks[-1])
        else:
            ranks.append(offset + position + 1)
    return ranks
