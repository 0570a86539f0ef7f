"""An uncertainty-aware skill estimate beside Elo: openskill's Plackett-Luce model, one-on-one.

`mu` is the estimate, `sigma` how unsure it is; `conservative` (mu - 3 sigma) is a score the
agent very probably deserves at least, so a newcomer's lucky streak does not top a table.
openskill is imported on the first rating, never at import time (cold start).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openskill.models import PlackettLuce

DEFAULT_MU = 25.0
DEFAULT_SIGMA = 25.0 / 3


@dataclass(frozen=True)
class Skill:
    mu: float = DEFAULT_MU
    sigma: float = DEFAULT_SIGMA

    @property
    def conservative(self) -> float:
        return self.mu - 3 * self.sigma


def rate(first: Skill, second: Skill, first_result: float) -> tuple[Skill, Skill]:
    """Both skills after one game; `first_result` is 1 (first won), 0.5 (draw) or 0 (first lost)."""
    if first_result not in (0.0, 0.5, 1.0):
        raise ValueError("result must be 0, 0.5 or 1")
    model = _model()
    # openskill ranks: lower is better, equal ranks are a draw.
    ranks = [1.0, 1.0] if first_result == 0.5 else [1.0, 2.0] if first_result == 1.0 else [2.0, 1.0]
    teams = [[model.rating(mu=first.mu, sigma=first.sigma)], [model.rating(mu=second.mu, sigma=second.sigma)]]
    [[a], [b]] = model.rate(teams, ranks=ranks)
    return Skill(mu=a.mu, sigma=a.sigma), Skill(mu=b.mu, sigma=b.sigma)


@cache
def _model() -> PlackettLuce:
    from openskill.models import PlackettLuce

    return PlackettLuce(mu=DEFAULT_MU, sigma=DEFAULT_SIGMA)
