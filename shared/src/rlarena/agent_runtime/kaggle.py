"""The Kaggle Simulations layer: what a kaggle-environments agent is given, built from the native turn.

Standard library only (runs next to the agent). A Kaggle agent is `agent(obs, config)` reading
attributes (`obs.board`, `config.columns`), so both arrive as `Struct`s, dicts that also answer
attribute access, as Kaggle's own `structify` makes them. Per game, Kaggle's fields and meanings:

- connect-four (Kaggle's ConnectX): `obs.board` the flat list of rows * columns cells, rows top to
  bottom, with absolute marks (0 empty, 1 the first player's, 2 the second's); `obs.mark` the
  agent's own mark (1 or 2); the action is the column;
- tic-tac-toe (Kaggle's tictactoe): `obs.board` the 9 cells row by row, marks as in ConnectX; the
  action is the cell `row * 3 + column` (turned into the platform's column-major cell here);
- chess (Kaggle's chess): `obs.board` the position in FEN, `obs.mark` "white" or "black"; the
  action is a UCI string ("e2e4"), which the match runner reads as the platform's own action;
- pong (no Kaggle counterpart): the native observation's fields, as attributes.

The native observation's other fields stay beside Kaggle's (`obs.legal_moves` in chess, ...). Every
game adds `obs.step` and `obs.remainingOverageTime`, and `config` carries Kaggle's
`episodeSteps`, `actTimeout`, `timeout` and `agentTimeout` with the platform's real values, beside
the native configuration's own keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

NAME = "kaggle"

_GRID_GAMES = ("connect-four", "tic-tac-toe")


class Struct(dict[str, Any]):
    """A dict whose keys are also attributes (`obs.board is obs["board"]`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the observation or configuration has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


def structify(value: Any) -> Any:
    """Dicts (nested in dicts and lists too) as `Struct`s."""
    if isinstance(value, Mapping):
        return _struct(value)
    if isinstance(value, list) and any(isinstance(item, Mapping | list) for item in value[:1]):
        return [structify(item) for item in value]
    return value


def _struct(fields: Mapping[str, Any]) -> Struct:
    return Struct({str(key): structify(item) for key, item in fields.items()})


def game_of(configuration: Mapping[str, Any]) -> str:
    """The unversioned game id from the configuration's `environment` ("connect-four-v3" -> "connect-four")."""
    environment = str(configuration.get("environment", ""))
    return environment.rsplit("-", 1)[0] if "-v" in environment else environment


def observation_of(
    observation: Mapping[str, Any], configuration: Mapping[str, Any], remaining_overage: float | None
) -> Struct:
    game = game_of(configuration)
    player = int(observation.get("player", configuration.get("player", 0)))
    fields = dict(observation)  # the native fields too (legal_moves, action_mask ...), under Kaggle's
    if game in _GRID_GAMES:
        fields.update(board=absolute_board(observation["board"], player), mark=player + 1)
    elif game == "chess":
        fields.update(board=observation["fen"], mark="white" if player == 0 else "black")
    overage = remaining_overage if remaining_overage is not None else configuration.get("overage_s", 0)
    fields.update(step=configuration.get("step", 0), remainingOverageTime=overage)
    return _struct(fields)


def configuration_of(configuration: Mapping[str, Any]) -> Struct:
    move = configuration.get("move_timeout_s")
    kaggle = {
        "episodeSteps": configuration.get("max_steps"),
        "actTimeout": move,
        "timeout": move,  # Kaggle's obsolete copy of actTimeout, still read by old agents
        "agentTimeout": configuration.get("overage_s"),  # Kaggle's obsolete name for the overage bank
    }
    return _struct({**configuration, **kaggle})


def absolute_board(rows: list[list[int]], player: int) -> list[int]:
    """The native board (rows from the top, 1 own / 2 opponent) as Kaggle's flat list of absolute
    marks: 1 is always the first player's (player 0) and 2 the second's."""
    mark, other = player + 1, 2 - player
    return [mark if cell == 1 else other if cell == 2 else 0 for row in rows for cell in row]


def action_of(action: Any, configuration: Mapping[str, Any]) -> Any:
    """Kaggle's action as the platform's: only tic-tac-toe numbers its cells differently."""
    is_cell = isinstance(action, int) and not isinstance(action, bool) and 0 <= action < 9
    if is_cell and game_of(configuration) == "tic-tac-toe":
        row, column = divmod(action, 3)
        return 3 * column + row
    return action


def adapt(call: Callable[[Any, Any], Any]) -> Callable[[Any, Mapping[str, Any], float | None], Any]:
    """The user's `call(obs, config)` driven with the native turn: translate in, translate back."""

    def turn(observation: Any, configuration: Mapping[str, Any], remaining_overage: float | None) -> Any:
        if not isinstance(observation, Mapping):  # not a turn of ours: hand it over untouched
            return call(observation, structify(configuration))
        action = call(observation_of(observation, configuration, remaining_overage), configuration_of(configuration))
        return action_of(_plain_int(action), configuration)

    return turn


def _plain_int(action: Any) -> Any:
    """numpy integers (and anything else with __index__) as int, so tic-tac-toe's cell is translated."""
    if isinstance(action, int | str | float | bool) or action is None:
        return action
    index = getattr(action, "__index__", None)
    if callable(index):
        try:
            return int(index())
        except Exception:  # not an integer after all: the runner rules on it
            return action
    return action
