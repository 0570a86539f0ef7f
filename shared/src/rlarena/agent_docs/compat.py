"""docs/agents.md's "Coming from Kaggle or the old rl-arena" section, rendered from the layers' own code.

The Kaggle configuration values and the example observation are what `rlarena.agent_runtime.kaggle`
makes of the real games' configuration and example position, so the page cannot drift from what a
Kaggle agent receives; the selection rules quote `rlarena.agent_runtime.detection`'s field lists.
"""

from __future__ import annotations

import json
from typing import Any

from rlarena.agent_docs.examples import play_example
from rlarena.agent_runtime import detection, kaggle, legacy
from rlarena.agent_runtime.loader import INTERFACE_CONSTANT, NATIVE
from rlarena.environments.guide import GUIDES, configuration, guide_of
from rlarena.environments.registry import spec_of

# Kaggle's own configuration keys the layer adds, and what each is here.
KAGGLE_CONFIGURATION = {
    "episodeSteps": "the step limit (`max_steps`)",
    "actTimeout": "seconds per move before the overage bank is charged (`move_timeout_s`)",
    "timeout": "Kaggle's obsolete copy of `actTimeout`",
    "agentTimeout": "Kaggle's obsolete name for the overage bank at the start (`overage_s`)",
}

# Per game: Kaggle's environment, obs.board, obs.mark and the action.
KAGGLE_GAMES = {
    "connect-four": (
        "connectx",
        "the 42 cells as one flat list, rows top to bottom: `board[row * columns + column]`; "
        "0 empty, 1 the first player's piece, 2 the second player's (absolute, not yours/theirs)",
        "your mark: 1 if you move first, else 2",
        "the column, 0-6",
    ),
    "tic-tac-toe": (
        "tictactoe",
        "the 9 cells row by row: `board[row * 3 + column]`; 0 empty, 1 the first player's mark, 2 the second's",
        "your mark: 1 if you move first, else 2",
        "the cell `row * 3 + column`, 0-8 (Kaggle's numbering; the platform translates it)",
    ),
    "chess": (
        "chess",
        "the position in FEN",
        '`"white"` or `"black"`',
        'a UCI string: `"e2e4"`, `"e7e8q"` to promote',
    ),
    "pong": ("(none)", "(the native fields only)", "(none)", "the native action"),
}


ANCHOR = "coming-from-kaggle-or-the-old-rl-arena"

# Each layer: its INTERFACE value and what it gives the agent (GET /api/v1/environments answers these).
LAYERS = {
    NATIVE: "the platform's own observation and configuration (the default)",
    kaggle.NAME: "Kaggle Simulations: my_agent(obs, config) with attribute access, ConnectX and tictactoe "
    "flat boards with absolute marks and obs.mark, chess obs.board in FEN answered by a UCI move",
    legacy.NAME: "the old rl-arena: act(observation) given the game's plain observation (Pong's 8 floats)",
}


def layers() -> list[dict[str, str]]:
    return [
        {"name": name, "declare": f"{INTERFACE_CONSTANT} = {json.dumps(name)}", "meaning": meaning}
        for name, meaning in LAYERS.items()
    ]


def render() -> str:
    return "\n\n".join(
        [_introduction(), _choice(), _kaggle(), _kaggle_configuration(), _kaggle_example(), _old(), _trained()]
    )


def _introduction() -> str:
    return """## Coming from Kaggle or the old rl-arena

Agents written for Kaggle Simulations (kaggle-environments) or for the old rl-arena run unchanged:
the platform plays them through a compatibility layer, which gives them the observation and
configuration they were written for and reads their action back. In chess every interface may also
answer a UCI string (`"e2e4"`): it plays the move it names, and one that is not legal in the
position is INVALID, the message naming it."""


def _choice() -> str:
    observation_fields = ", ".join(f"`obs.{name}`" for name in sorted(detection.KAGGLE_OBSERVATION_FIELDS))
    configuration_fields = ", ".join(f"`config.{name}`" for name in sorted(detection.KAGGLE_CONFIGURATION_FIELDS))
    arrays = ", ".join(f"`{name}(observation)`" for name in sorted(detection.ARRAY_CONSTRUCTORS))
    kaggle_rule = (
        "the file has none of the native forms and defines a function: Kaggle's rule, the last function "
        "(or callable object of the file's own class) defined in the file, not one it imports; or the `agent` "
        "function, or a last function defined next to an agent class, reads Kaggle's fields: "
        f'{observation_fields}, `obs["mark"]`, or {configuration_fields}'
    )
    old_rule = (
        "the agent object's action method reads the observation by position: `observation[1]`, "
        f"`observation[2:4]`, `a, b, *rest = observation`, or {arrays}"
    )
    return f"""### Which layer plays your agent

Say it in the entry file with `{INTERFACE_CONSTANT} = "..."` at module level, or let the code decide:

| layer | `{INTERFACE_CONSTANT} =` | chosen without it when |
| --- | --- | --- |
| native | `"{NATIVE}"` | none of the rules below applies (the default) |
| Kaggle | `"{kaggle.NAME}"` | {kaggle_rule} |
| old rl-arena | `"{legacy.NAME}"` | {old_rule} |

Each rule looks for something that cannot work on the native interface (its observation is a dict
with no attributes and no `mark`), so a native agent is never played through another layer; a
parameter the function assigns to again is not evidence. When unsure, declare it. The validation
(`rlarena validate`, the build log) names the layer and why, e.g.
`agent interface: kaggle layer, last callable: my_agent reads obs.mark (my_agent)`."""


def _kaggle() -> str:
    rows = "\n".join(
        f"| {spec_of(game).name} | {environment} | {board} | {mark} | {action} |"
        for game, (environment, board, mark, action) in KAGGLE_GAMES.items()
    )
    return f"""### Kaggle Simulations

The agent is `my_agent(obs, config)` (or `my_agent(obs)`), as kaggle-environments calls it: `obs` and
`config` are dicts that also answer attribute access (`obs.board`, `config.columns`), and the
function returns the action.

| game | Kaggle's environment | `obs.board` | `obs.mark` | action |
| --- | --- | --- | --- | --- |
{rows}

Every game adds `obs.step` (steps played so far) and `obs.remainingOverageTime` (what is left of your
overage bank, in seconds), and keeps the native observation's own fields beside Kaggle's
(`obs.legal_actions`; in chess `obs.legal_moves` and `obs.fen`). python-chess is in the runtime
(`import chess`); Chessnut is not: bring it in the upload (it is pure Python) or list it in
requirements.txt."""


def _kaggle_configuration() -> str:
    from rlarena.executor.runner import MatchLimits

    games = [guide.environment_id for guide in GUIDES]
    received = {game: kaggle.configuration_of(_configuration(game)) for game in games}
    keys = [*KAGGLE_CONFIGURATION, "columns", "rows", "inarow"]
    meanings = {**KAGGLE_CONFIGURATION, "columns": "columns", "rows": "rows", "inarow": "marks in a line that win"}
    header = " | ".join(spec_of(game).name for game in games)
    rows = "\n".join(
        f"| `{key}` | {meanings[key]} | " + " | ".join(_value(received[game].get(key)) for game in games) + " |"
        for key in keys
    )
    limits = MatchLimits.from_spec(spec_of("chess"))
    return f"""`config` holds Kaggle's keys, with this platform's values, beside the native configuration's own:

| key | meaning | {header} |
| --- | --- | {" | ".join("---" for _ in games)} |
{rows}

Kaggle's `runTimeout` has no counterpart: the match wall clock ({limits.match_timeout_s:g} s in chess) is
only a safety net that a game within its move limits never reaches."""


def _kaggle_example() -> str:
    guide = guide_of("connect-four")
    played = play_example(guide)
    observation = kaggle.observation_of(played.observation, played.configuration, played.configuration["overage_s"])
    shown = {key: observation[key] for key in ("board", "mark", "step", "remainingOverageTime")}
    return f"""**Example**: connect-four's example position (below), as a Kaggle agent receives it as player
{played.configuration["player"]} (Kaggle's fields only):

```json
{json.dumps(shown)}
```"""


def _old() -> str:
    spec = spec_of("pong")
    old_observation = (
        "8 floats `[ball_x, ball_y, ball_vx, ball_vy, paddle1_y, paddle2_y, score1, score2]`, the same for both players"
    )
    new_observation = (
        "the same list (`numpy.asarray(observation, dtype=numpy.float32)` gives the array the old environment made)"
    )
    return f"""### The old rl-arena

The old executor made the agent with `create_agent(player_id=...)` or `Agent(player_id=...)` and
called its `act(observation)` (or `get_action`, `predict`) with the game's plain observation. The
`{legacy.NAME}` layer does the same with the native observation's `observation` field:

| | old rl-arena | here |
| --- | --- | --- |
| Pong's observation | {old_observation} | {new_observation} |
| your side | `player_id` given to `create_agent` or `Agent` | the same (0 the left paddle, 1 the right) |
| action | 0 up, 1 stay, 2 down | the same |
| the game's length | {spec.max_steps} steps, 11 points | the same |

In the other games the layer passes the native `observation` field too (PettingZoo's planes)."""


def _trained() -> str:
    rows = "\n".join(
        f"| {spec_of(guide.environment_id).name} | {_type_of(guide, 'observation')} | "
        f"{_type_of(guide, 'action_mask')} | {spec_of(guide.environment_id).actions} |"
        for guide in GUIDES
    )
    return f"""### PettingZoo and Gymnasium policies

The native observation keeps what a policy trained on PettingZoo's classic games was fed: the
observation planes and the action mask, with PettingZoo's own shapes and encodings
(`numpy.asarray(observation["observation"], dtype=numpy.float32)`; mask the logits with
`observation["action_mask"]`). `rlarena.envs.make(game, opponent="house:random")` gives each game as a
Gymnasium environment on the platform's own rules, to train on what you are judged on.

| game | `observation` | `action_mask` | actions |
| --- | --- | --- | --- |
{rows}"""


def _type_of(guide: Any, name: str) -> str:
    for field in guide.observation:
        if field.name == name:
            return f"`{field.type}`"
    return "(none)"


def _configuration(game: str) -> dict[str, Any]:
    from rlarena.executor.runner import MatchLimits

    spec = spec_of(game)
    limits = MatchLimits.from_spec(spec)
    return configuration(spec, player=0, step=0, move_timeout_s=limits.move_timeout_s, overage_s=limits.overage_s)


def _value(value: Any) -> str:
    return "" if value is None else f"`{json.dumps(value)}`"
