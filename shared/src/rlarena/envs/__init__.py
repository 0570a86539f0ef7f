"""Each game as a Gymnasium single-agent environment, on the platform's own rules.

`make("connect-four", opponent="house:random")` plays the learner against an opponent with the
code the match runner uses (`rlarena.environments.registry.create`), the observation an agent
receives there and the same legality rule: an illegal action ends the episode as a loss. Gymnasium
and numpy are imported by `make`, never by this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlarena.envs.game_env import GameEnv, Side


def make(game: str, opponent: str = "house:random", *, side: Side = "alternate", seed: int | None = None) -> GameEnv:
    """A Gymnasium environment for `game` ("tic-tac-toe", "connect-four-v3", "chess", "pong").

    `opponent` is a house agent ("house:random", "house:greedy" ...) or a path to an agent (a .py
    file, a .zip or .tar.gz upload, or a folder), read under the upload rules and loaded into this
    process with the sandbox's own loader: this runs on your machine, with your code, so no sandbox
    is used and no move time limit is enforced. `side` is 0 (the learner moves first), 1, or
    "alternate" (0, 1, 0 ... from each seeded reset); `seed` seeds the first reset. A seeded
    environment also seeds Python's `random` at each reset (house agents draw from it), so a
    seeded run replays exactly.
    """
    from rlarena.envs.game_env import GameEnv

    return GameEnv(game, opponent, side=side, seed=seed)


__all__ = ["make"]
