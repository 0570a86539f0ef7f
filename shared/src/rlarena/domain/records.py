"""Rating one finished match: the record-keeping rules, with no I/O.

Given both players' standings (record, Elo, skill) and the result, `rate_match` says what each
agent's standing becomes and what its rating-history entry records. The caller loads the
standings (under its locks), applies `after` to its rows and writes the entries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from rlarena.domain import elo, skill

WIN, DRAW, LOSS = 1.0, 0.5, 0.0


class InvalidResult(ValueError):
    """A result that does not fit the match: other agents, or a winner who did not play."""


@dataclass(frozen=True)
class Standing:
    """An agent's record and ratings at one moment."""

    agent_id: uuid.UUID
    elo: int
    skill: skill.Skill
    rated_matches: int
    total_matches: int
    wins: int
    losses: int
    draws: int


@dataclass(frozen=True)
class RatedAgent:
    """One agent's side of a rated match: its standing before and after (the history entry)."""

    before: Standing
    after: Standing

    @property
    def agent_id(self) -> uuid.UUID:
        return self.before.agent_id

    @property
    def elo_change(self) -> int:
        return self.after.elo - self.before.elo


def outcome(agent_id: uuid.UUID, winner_id: uuid.UUID | None) -> float:
    """1 for the winner, 0 for the loser, 0.5 each for a draw (no winner)."""
    if winner_id is None:
        return DRAW
    return WIN if winner_id == agent_id else LOSS


def check_result(players: tuple[uuid.UUID, uuid.UUID], scored: set[uuid.UUID], winner_id: uuid.UUID | None) -> None:
    """The result must score exactly the two players and name one of them (or nobody) as winner."""
    if scored != set(players):
        raise InvalidResult("result names agents other than its two players")
    if winner_id is not None and winner_id not in players:
        raise InvalidResult("result names a winner who did not play")


def record(standing: Standing, result: float) -> Standing:
    """The record after one more match (`result` 1, 0.5 or 0); ratings unchanged."""
    return replace(
        standing,
        total_matches=standing.total_matches + 1,
        wins=standing.wins + (result == WIN),
        losses=standing.losses + (result == LOSS),
        draws=standing.draws + (result == DRAW),
    )


def rate_match(first: Standing, second: Standing, winner_id: uuid.UUID | None) -> tuple[RatedAgent, RatedAgent]:
    """Elo (each side with its own K), skill, and the records of both players of a rated match."""
    first_result, second_result = outcome(first.agent_id, winner_id), outcome(second.agent_id, winner_id)
    first_elo = elo.rate(first.elo, second.elo, first_result, first.rated_matches)
    second_elo = elo.rate(second.elo, first.elo, second_result, second.rated_matches)
    first_skill, second_skill = skill.rate(first.skill, second.skill, first_result)

    def after(standing: Standing, result: float, new_elo: int, new_skill: skill.Skill) -> Standing:
        played = record(standing, result)
        return replace(played, elo=new_elo, skill=new_skill, rated_matches=standing.rated_matches + 1)

    return (
        RatedAgent(before=first, after=after(first, first_result, first_elo.new_rating, first_skill)),
        RatedAgent(before=second, after=after(second, second_result, second_elo.new_rating, second_skill)),
    )
