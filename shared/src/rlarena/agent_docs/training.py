"""docs/agents.md's "Training environments" section: rlarena.envs, with each game's spaces read off
the real environments (so the shapes shown are the ones `make` returns)."""

from __future__ import annotations

from rlarena.environments.guide import GUIDES
from rlarena.environments.registry import spec_of


def training_section() -> str:
    from rlarena import envs

    rows = []
    for guide in GUIDES:
        env = envs.make(guide.environment_id)
        fields = ", ".join(
            f"`{name}` {space.dtype}{list(space.shape or ())}" if name != "player" else "`player` 0 or 1"
            for name, space in env.observation_space.spaces.items()
        )
        rows.append(f"| {spec_of(guide.environment_id).name} | {fields} | `Discrete({env.action_space.n})` |")
        env.close()
    table = "\n".join(rows)
    return f"""## Training environments

Train on the rules you are judged by: `rlarena.envs.make(GAME, opponent="house:random",
side="alternate", seed=None)` (in the `rlarena` package, with Gymnasium) returns a Gymnasium
environment running the platform's own game code against an opponent: a house agent
(`house:<name>`) or a path to an agent (a `.py`, a `.zip` or `.tar.gz`, or a folder), loaded into
your process with the sandbox's own loader and compatibility layers: it is your machine and your
code, so there is no sandbox and no move time limit. `side` is 0 (you move first), 1, or
`"alternate"` (0, 1, 0 ... from each seeded reset); `reset(options={{"side": 1}})` picks it for one
episode. It passes Gymnasium's `check_env`.

- The arrays are the observation your agent receives, as numpy; `info["observation"]` is that
  observation exactly as sent (with `legal_actions`, the board rows or the FEN ...), beside
  `info["configuration"]` and `info["side"]`.
- An action the game does not list as legal ends the episode as a loss (reward -1), as it is
  INVALID in a match; an opponent that raises or plays an illegal action forfeits (+1).
- Rewards: +1, 0 or -1 at the end of a board game; +1 or -1 for each Pong point. `info["outcome"]`
  holds the winner and why the game ended, once it has.

| game | observation space (a `Dict`) | action space |
| --- | --- | --- |
{table}

`examples/connect-four-reinforce` trains a numpy policy with it in two minutes on a laptop CPU and
uploads it as an ordinary agent."""
