"""Each player's clock, and the match's safety wall clock derived from them.

A player's time is its own: `move_timeout_s` for each move, plus its own overage bank
(`overage_s` for the match) that pays for moves beyond it. The match wall clock is no third
clock that could run out on a player: it only guards against a platform that hangs, so it is
long enough for any game in which every move keeps within its player's limits (start-up, every
step at the move limit, every player's bank spent, and room for the platform's own work between
moves). The runner ends a game that reaches it anyway as a draw naming the reason, never as a
loss on time.
"""

from __future__ import annotations

import math

# The platform's own work per step (stepping the game, observations, the replay frame).
STEP_OVERHEAD_S = 0.05
# And once per match (sandboxes starting and stopping, scheduling on a busy machine).
CLOCK_SLACK_S = 60.0


def safety_wall_clock_s(
    *, startup_timeout_s: float, move_timeout_s: float, overage_s: float, max_steps: int, players: int
) -> float:
    """The longest a match whose every move keeps within its limits can take, and some slack.

    Steps are sequential (one player moves) or simultaneous (pong): either way a step takes at
    most the move limit plus what the players draw from their own banks. Whole seconds, as the
    deadlines derived from it (the match's row, a match Job's) are kept."""
    per_step = move_timeout_s + STEP_OVERHEAD_S
    return float(math.ceil(startup_timeout_s + max_steps * per_step + players * overage_s + CLOCK_SLACK_S))
