"""Competition ranking: ties share a rank, the next rank skips."""

from __future__ import annotations

from rlarena.domain.ranking import competition_ranks


def test_ties_share_a_rank_and_the_next_rank_skips() -> None:
    assert competition_ranks([1700, 1600, 1600, 1550, 1550, 1550, 1400]) == [1, 2, 2, 4, 4, 4, 7]


def test_a_later_page_continues_the_ranking() -> None:
    # Whole table: 1700 1600 1600 1600 1500 -> ranks 1 2 2 2 5; page two starts at offset 2.
    assert competition_ranks([1600, 1600, 1500], offset=2, first_rank=2) == [2, 2, 5]
    assert competition_ranks([1500, 1400], offset=4) == [5, 6]


def test_an_empty_page_has_no_ranks() -> None:
    assert competition_ranks([]) == []
