"""The agent loader: every documented interface form, the precedence between them, and the
messages users get when their upload cannot be used. The agents here are the tests' own
fixtures, so importing them in-process is fine."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlarena.agent_runtime.hints import mismatch_hint
from rlarena.agent_runtime.kaggle import structify
from rlarena.agent_runtime.loader import MODULE_NAME, AgentLoadError, load_agent


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    # The loader edits sys.path and sys.modules, as it should in its own child process.
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))
    return folder


def test_a_kaggle_style_function_gets_observation_and_configuration(tmp_path: Path) -> None:
    write(
        tmp_path, {"agent.py": "def agent(observation, configuration):\n    return observation + configuration['k']\n"}
    )
    loaded = load_agent(tmp_path, "agent.py")
    assert (loaded.interface, loaded.method) == ("function", "agent")
    assert loaded.act(1, {"k": 2}) == 3


def test_a_function_taking_only_the_observation_is_called_with_it_alone(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": "def agent(observation):\n    return observation * 2\n"})
    assert load_agent(tmp_path, "agent.py").act(4, {"ignored": True}) == 8


def test_create_agent_receives_the_player_id(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "bot.py": """
                class Bot:
                    def __init__(self, player_id):
                        self.player_id = player_id
                    def act(self, observation):
                        return (self.player_id, observation)

                def create_agent(player_id=0):
                    return Bot(player_id)
            """
        },
    )
    loaded = load_agent(tmp_path, "bot.py", player_id=1)
    assert (loaded.interface, loaded.method, loaded.target) == ("create_agent", "act", "create_agent(player_id=1).act")
    assert loaded.act("obs", {}) == (1, "obs")


def test_create_agent_without_arguments_and_get_action(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "agent.py": """
                class Bot:
                    def get_action(self, observation):
                        return "".join(reversed(observation))

                def create_agent():
                    return Bot()
            """
        },
    )
    loaded = load_agent(tmp_path, "agent.py", player_id=1)
    assert (loaded.interface, loaded.method, loaded.target) == (
        "create_agent",
        "get_action",
        "create_agent().get_action",
    )
    assert loaded.act("abc", {}) == "cba"


def test_an_agent_class_is_built_with_player_id_when_it_takes_one(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "agent.py": """
                class Agent:
                    def __init__(self, player_id=0):
                        self.player_id = player_id
                    def predict(self, observation):
                        return self.player_id
            """
        },
    )
    loaded = load_agent(tmp_path, "agent.py", player_id=1)
    assert (loaded.interface, loaded.method) == ("Agent class", "predict")
    assert loaded.act(None, {}) == 1


def test_an_agent_class_without_arguments(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"agent.py": "class Agent:\n    def act(self, observation, configuration):\n        return configuration\n"},
    )
    loaded = load_agent(tmp_path, "agent.py", player_id=1)
    assert (loaded.interface, loaded.target) == ("Agent class", "Agent().act")
    assert loaded.act(None, {"x": 1}) == {"x": 1}


def test_the_single_class_of_the_module_is_the_agent_whatever_its_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pong_agent.py": """
                from dataclasses import dataclass

                @dataclass
                class Memory:  # no action method: a helper, not a candidate
                    last: int = 0

                class PongAgent:
                    def act(self, observation):
                        return 2
            """
        },
    )
    loaded = load_agent(tmp_path, "pong_agent.py")
    assert (loaded.interface, loaded.method, loaded.target) == ("single class", "act", "PongAgent().act")
    assert loaded.act({}, {}) == 2


def test_a_base_class_and_its_subclass_count_as_one_agent(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "agent.py": """
                class Base:
                    def act(self, observation):
                        raise NotImplementedError
                class Greedy(Base):
                    def act(self, observation):
                        return "greedy"
            """
        },
    )
    assert load_agent(tmp_path, "agent.py").target == "Greedy().act"


def test_an_imported_class_does_not_count_as_the_single_class(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "library_of_bots.py": "class Borrowed:\n    def act(self, observation):\n        return 0\n",
            "agent.py": "from library_of_bots import Borrowed\n",
        },
    )
    with pytest.raises(AgentLoadError, match="no agent found"):
        load_agent(tmp_path, "agent.py")


def test_an_imported_class_next_to_an_own_class_is_not_ambiguous(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "more_bots.py": "class Borrowed:\n    def act(self, observation):\n        return 0\n",
            "agent.py": """
                from more_bots import Borrowed

                class Mine:
                    def act(self, observation):
                        return 1
            """,
        },
    )
    assert load_agent(tmp_path, "agent.py").target == "Mine().act"


def test_several_own_agent_classes_ask_the_user_to_choose(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "agent.py": """
                class Left:
                    def act(self, observation):
                        return 0
                class Right:
                    def act(self, observation):
                        return 1
            """
        },
    )
    with pytest.raises(AgentLoadError) as caught:
        load_agent(tmp_path, "agent.py")
    assert "Left, Right" in caught.value.message
    assert "Agent" in caught.value.message and "create_agent" in caught.value.message


ALL_FORMS = """
    class Bot:
        def act(self, observation):
            return "create_agent"

    class Agent:
        def act(self, observation):
            return "Agent"

    class Other:
        def act(self, observation):
            return "single"
"""


FUNCTION = "def agent(observation, configuration):\n    return 'function'\n"
FACTORY = "def create_agent():\n    return Bot()\n"


@pytest.mark.parametrize(
    ("extra", "interface"),
    [(FUNCTION + FACTORY, "function"), (FACTORY, "create_agent"), ("", "Agent class")],
)
def test_precedence_is_function_then_create_agent_then_agent_class(tmp_path: Path, extra: str, interface: str) -> None:
    write(tmp_path, {"agent.py": textwrap.dedent(ALL_FORMS) + extra})
    loaded = load_agent(tmp_path, "agent.py")
    assert loaded.interface == interface
    assert loaded.act(None, {}) == {"function": "function", "create_agent": "create_agent"}.get(interface, "Agent")


def test_no_interface_lists_every_accepted_form(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": "x = 1\nagent = 'not callable'\n"})
    with pytest.raises(AgentLoadError) as caught:
        load_agent(tmp_path, "agent.py")
    message = caught.value.message
    assert "no agent found in agent.py" in message and "`agent` is not a function" in message
    for form in ("agent(observation, configuration)", "create_agent(player_id)", "class `Agent`", "exactly one class"):
        assert form in message
    assert caught.value.user_traceback == ""


def test_a_syntax_error_is_reported_with_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": "def agent(observation, configuration):\n    return (\n"})
    with pytest.raises(AgentLoadError) as caught:
        load_agent(tmp_path, "agent.py")
    assert caught.value.message.startswith("importing agent.py failed: SyntaxError")
    assert isinstance(caught.value.__cause__, SyntaxError)
    assert 'agent.py", line 2' in caught.value.user_traceback
    assert MODULE_NAME not in sys.modules


def test_a_missing_module_says_to_list_it_in_requirements(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": "import numpy_that_does_not_exist\n"})
    with pytest.raises(AgentLoadError) as caught:
        load_agent(tmp_path, "agent.py")
    assert "No module named 'numpy_that_does_not_exist'" in caught.value.message
    assert "requirements.txt" in caught.value.message


def test_an_exception_at_import_shows_the_users_frames_not_the_loaders(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "agent.py": "import crashing_helper\n",
            "crashing_helper.py": "def boom():\n    raise ValueError('bad weights')\n\nboom()\n",
        },
    )
    with pytest.raises(AgentLoadError) as caught:
        load_agent(tmp_path, "agent.py")
    trace = caught.value.user_traceback
    assert caught.value.message == "importing agent.py failed: ValueError: bad weights"
    assert trace.startswith("Traceback (most recent call last):\n")
    assert trace.splitlines()[1].strip().startswith(f'File "{tmp_path / "agent.py"}", line 1')
    assert 'crashing_helper.py", line 2, in boom' in trace
    assert "loader.py" not in trace and "importlib" not in trace


def test_sys_exit_at_import_is_a_load_error(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": "import sys\nsys.exit(3)\n"})
    with pytest.raises(AgentLoadError, match=r"called sys.exit\(3\)"):
        load_agent(tmp_path, "agent.py")


def test_a_constructor_that_raises_is_reported_with_its_traceback(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "agent.py": """
                class Agent:
                    def __init__(self):
                        raise RuntimeError('no model')
                    def act(self, observation):
                        return 0
            """
        },
    )
    with pytest.raises(AgentLoadError) as caught:
        load_agent(tmp_path, "agent.py")
    assert caught.value.message == "Agent() failed: RuntimeError: no model"
    assert "raise RuntimeError('no model')" in caught.value.user_traceback


def test_create_agent_returning_an_object_without_a_method_says_what_to_add(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": "def create_agent():\n    return object()\n"})
    with pytest.raises(
        AgentLoadError, match=r"returned a object, which has none of the methods act, get_action, predict"
    ):
        load_agent(tmp_path, "agent.py")


def test_the_agents_folder_comes_first_on_sys_path(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "nested/main.py": "import sibling_module\n\ndef agent(o, c):\n    return sibling_module.VALUE\n",
            "nested/sibling_module.py": "VALUE = 7\n",
        },
    )
    loaded = load_agent(tmp_path, "nested/main.py")
    assert sys.path[:2] == [str(tmp_path.resolve()), str((tmp_path / "nested").resolve())]
    assert loaded.act(None, {}) == 7


@pytest.mark.parametrize("entry_point", ["../outside.py", "missing.py", "notes.txt"])
def test_an_entry_point_outside_the_folder_or_not_python_is_refused(tmp_path: Path, entry_point: str) -> None:
    folder = tmp_path / "upload"
    write(folder, {"notes.txt": "hello"})
    write(tmp_path, {"outside.py": "def agent(o, c):\n    return 0\n"})
    with pytest.raises(AgentLoadError, match="entry point"):
        load_agent(folder, entry_point)


def test_importing_the_loader_pulls_no_platform_dependency() -> None:
    code = (
        "import sys, rlarena.agent_runtime.loader, rlarena.agent_runtime.probe\n"
        "heavy = ('pydantic', 'sqlalchemy', 'rlarena.errors', 'rlarena.config', 'yaml', 'jwt')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    output = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"


# --- compatibility layers: which one the loader picks, and what the agent then sees ---------------

CONNECT_FOUR_TURN = {
    # Player 1 to move after player 0 dropped into column 3: native rows from the top, 1 own, 2 theirs.
    "observation": {"board": [[0] * 7] * 5 + [[0, 0, 0, 2, 0, 0, 0]], "player": 1, "legal_actions": list(range(7))},
    "configuration": {
        "environment": "connect-four-v3",
        "player": 1,
        "step": 1,
        "max_steps": 42,
        "move_timeout_s": 2,
        "overage_s": 60,
        "rows": 6,
        "columns": 7,
        "inarow": 4,
    },
}

KAGGLE_CONNECTX = """
    import math
    from random import choice

    def helper_centre(config):
        return config.columns // 2

    def my_agent(obs, config):
        return (obs.board, obs["mark"], obs.step, obs.remainingOverageTime, helper_centre(config),
                config.rows, config.inarow, config.actTimeout, config.timeout, config.episodeSteps,
                config.agentTimeout)

    from math import floor  # imported after the agent: Kaggle's rule counts only what the file defines
"""


def test_a_kaggle_connectx_file_plays_its_last_function_with_kaggles_observation(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": KAGGLE_CONNECTX})
    loaded = load_agent(tmp_path, "main.py", player_id=1)
    assert (loaded.layer, loaded.method, loaded.target) == ("kaggle", "my_agent", "my_agent(obs, config)")
    assert loaded.interface.startswith("kaggle layer, last callable: my_agent reads")
    turn = CONNECT_FOUR_TURN
    board, mark, step, overage, centre, *config = loaded.act(turn["observation"], turn["configuration"], 57.5)
    # Flat, rows top to bottom, absolute marks: player 0's piece is 1 even when player 1 looks.
    assert board == [0] * 35 + [0, 0, 0, 1, 0, 0, 0]
    assert (mark, step, overage, centre) == (2, 1, 57.5, 3)
    assert config == [6, 4, 2, 2, 42, 60]


def test_a_file_with_no_native_form_is_a_kaggle_agent_by_its_last_function(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "def first(obs):\n    return 0\n\ndef second(obs):\n    return obs['board']\n"})
    loaded = load_agent(tmp_path, "main.py")
    assert (loaded.layer, loaded.method) == ("kaggle", "second")
    assert "no native form in the file" in loaded.interface
    assert loaded.act(CONNECT_FOUR_TURN["observation"], CONNECT_FOUR_TURN["configuration"])[38] == 1


def test_an_agent_function_reading_kaggle_fields_gets_the_kaggle_layer(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": "def agent(obs, config):\n    return obs.mark * 10 + config.columns\n"})
    loaded = load_agent(tmp_path, "agent.py", player_id=1)
    assert loaded.interface == "kaggle layer, function: agent reads config.columns"
    assert loaded.act(CONNECT_FOUR_TURN["observation"], CONNECT_FOUR_TURN["configuration"]) == 27


@pytest.mark.parametrize(
    "body",
    [
        "return observation['legal_actions'][0]",
        "observation = SimpleNamespace(**observation)\n    return observation.legal_actions[0]",
        "return configuration['columns'] - 7",
    ],
    ids=["dict access", "parameter rebound", "native configuration key"],
)
def test_native_agent_functions_are_never_read_as_kaggle(tmp_path: Path, body: str) -> None:
    source = f"from types import SimpleNamespace\n\ndef agent(observation, configuration):\n    {body}\n"
    write(tmp_path, {"agent.py": source})
    loaded = load_agent(tmp_path, "agent.py")
    assert (loaded.layer, loaded.interface) == ("native", "function")
    assert loaded.act(CONNECT_FOUR_TURN["observation"], CONNECT_FOUR_TURN["configuration"]) == 0


def test_a_helper_class_does_not_hide_a_kaggle_agent_defined_after_it(tmp_path: Path) -> None:
    source = """
        class Model:
            def predict(self, board):
                return 3

        MODEL = Model()

        def my_agent(obs, config):
            return MODEL.predict(obs.board)
    """
    write(tmp_path, {"main.py": source})
    assert load_agent(tmp_path, "main.py").layer == "kaggle"


def test_a_native_class_with_a_helper_function_after_it_stays_native(tmp_path: Path) -> None:
    source = """
        class Player:
            def act(self, observation):
                return best(observation["legal_actions"])

        def best(actions):
            return actions[0]
    """
    write(tmp_path, {"main.py": source})
    loaded = load_agent(tmp_path, "main.py")
    assert (loaded.layer, loaded.interface) == ("native", "single class")


def test_a_callable_object_of_the_files_own_class_is_kaggles_last_callable(tmp_path: Path) -> None:
    source = """
        class Memory:
            def __init__(self):
                self.calls = 0
            def __call__(self, obs, config):
                self.calls += 1
                return self.calls

        remember = Memory()
    """
    write(tmp_path, {"main.py": source})
    loaded = load_agent(tmp_path, "main.py")
    assert (loaded.layer, loaded.method) == ("kaggle", "remember")
    assert [loaded.act({}, {}) for _ in range(2)] == [1, 2]


def test_kaggle_tic_tac_toe_cells_are_numbered_row_by_row_and_translated_back(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "def my_agent(obs, config):\n    return obs.board.index(0)\n"})
    loaded = load_agent(tmp_path, "main.py")
    # Player 1 took the top-left corner: Kaggle's first free cell is 1 (row 0, column 1), which
    # the platform numbers down the columns: 3 * column + row = 3.
    board = [[2, 0, 0], [0, 0, 0], [0, 0, 0]]
    native = {"board": board, "player": 0}
    configuration = {"environment": "tic-tac-toe-v3", "player": 0, "step": 1}
    assert loaded.act(native, configuration) == 3


def test_kaggle_chess_sees_the_fen_and_its_colour_and_returns_uci(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "def chess_bot(obs, config):\n    return (obs.board, obs.mark, obs.legal_moves[0])\n"})
    loaded = load_agent(tmp_path, "main.py")
    fen = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq e3 0 1"
    native = {"fen": fen, "legal_moves": ["e7e5"], "legal_actions": [1], "player": 1}
    configuration = {"environment": "chess-v6", "player": 1, "step": 1}
    assert loaded.act(native, configuration) == (fen, "black", "e7e5")


@pytest.mark.parametrize(("declared", "layer"), [("kaggle", "kaggle"), ("Kaggle", "kaggle"), ("native", "native")])
def test_the_interface_constant_chooses_the_layer(tmp_path: Path, declared: str, layer: str) -> None:
    source = f"INTERFACE = {declared!r}\n\ndef agent(obs, config):\n    return obs['mark'] if 'mark' in obs else 'n'\n"
    write(tmp_path, {"agent.py": source})
    loaded = load_agent(tmp_path, "agent.py")
    assert loaded.layer == layer
    assert loaded.act(CONNECT_FOUR_TURN["observation"], CONNECT_FOUR_TURN["configuration"]) == (
        2 if layer == "kaggle" else "n"
    )
    if layer != "native":
        assert loaded.interface.endswith("INTERFACE = 'kaggle'")


def test_an_unknown_interface_names_the_choices(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": "INTERFACE = 'gym'\n\ndef agent(obs, config):\n    return 0\n"})
    with pytest.raises(AgentLoadError, match=r"INTERFACE = 'gym': use one of 'native', 'kaggle', 'rl-arena-v1'"):
        load_agent(tmp_path, "agent.py")


OLD_QUICK_START = """
    class PongAgent:
        def act(self, observation):
            ball_y = observation[1]
            my_paddle_y = observation[4]
            if ball_y > my_paddle_y + 0.05:
                return 2
            elif ball_y < my_paddle_y - 0.05:
                return 0
            return 1
"""

PONG_TURN = {
    "observation": {"observation": [0.5, 0.9, 0.02, 0.0, 0.5, 0.5, 0.0, 0.0], "player": 0},
    "configuration": {"environment": "pong-v1", "player": 0, "step": 0},
}


def test_the_old_rl_arena_quick_start_gets_the_plain_list(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": OLD_QUICK_START})
    loaded = load_agent(tmp_path, "agent.py")
    assert loaded.layer == "rl-arena-v1"
    assert loaded.interface == "rl-arena-v1 layer, single class: act reads observation[1]"
    assert loaded.act(PONG_TURN["observation"], PONG_TURN["configuration"]) == 2  # the ball is below


def test_unpacking_the_observation_is_the_old_interface_too(tmp_path: Path) -> None:
    source = """
        class Agent:
            def __init__(self, player_id=0):
                self.me = player_id
            def act(self, observation):
                ball_x, ball_y, *_ = observation
                return ball_y
    """
    write(tmp_path, {"agent.py": source})
    loaded = load_agent(tmp_path, "agent.py")
    assert loaded.layer == "rl-arena-v1"
    assert loaded.act(PONG_TURN["observation"], PONG_TURN["configuration"]) == 0.9


def test_a_native_pong_class_reading_its_field_is_not_misread(tmp_path: Path) -> None:
    source = """
        class PongAgent:
            def act(self, observation):
                state = observation["observation"]
                return 2 if state[1] > state[4] else 0
    """
    write(tmp_path, {"agent.py": source})
    loaded = load_agent(tmp_path, "agent.py")
    assert (loaded.layer, loaded.interface) == ("native", "single class")
    assert loaded.act(PONG_TURN["observation"], PONG_TURN["configuration"]) == 2


def test_declaring_the_old_interface_gives_the_list_to_any_form(tmp_path: Path) -> None:
    write(tmp_path, {"agent.py": "INTERFACE = 'rl-arena-v1'\n\ndef agent(observation):\n    return len(observation)\n"})
    loaded = load_agent(tmp_path, "agent.py")
    assert loaded.layer == "rl-arena-v1"
    assert loaded.act(PONG_TURN["observation"], PONG_TURN["configuration"]) == 8


def test_the_kaggle_struct_answers_attributes_and_keys() -> None:
    struct = structify({"board": [1, 2], "nested": [{"mark": 1}]})
    assert struct.board is struct["board"] and struct.nested[0].mark == 1
    struct.extra = 3
    assert struct["extra"] == 3
    with pytest.raises(AttributeError, match="no field 'missing'"):
        _ = struct.missing


def test_an_array_made_of_the_whole_observation_is_the_old_interface(tmp_path: Path) -> None:
    source = """
        import array

        class Agent:
            def act(self, observation):
                state = array.array("d", observation)
                return int(state[1] * 10)
    """
    write(tmp_path, {"agent.py": source})
    loaded = load_agent(tmp_path, "agent.py")
    assert loaded.interface == "rl-arena-v1 layer, Agent class: act reads array(observation)"
    assert loaded.act(PONG_TURN["observation"], PONG_TURN["configuration"]) == 9


def test_a_native_agent_failing_on_kaggles_attributes_is_told_to_declare_kaggle(tmp_path: Path) -> None:
    # Reads obs.board through a helper, so detection leaves it native and it fails there.
    source = "def board_of(o):\n    return o.board\n\ndef agent(obs, config):\n    return board_of(obs)[0]\n"
    write(tmp_path, {"agent.py": source})
    loaded = load_agent(tmp_path, "agent.py")
    assert loaded.layer == "native"
    with pytest.raises(AttributeError) as caught:
        loaded.act(CONNECT_FOUR_TURN["observation"], CONNECT_FOUR_TURN["configuration"])
    assert 'declare INTERFACE = "kaggle"' in mismatch_hint(caught.value, loaded.layer)
    assert mismatch_hint(caught.value, "kaggle") == ""
    assert mismatch_hint(ValueError("bad"), "native") == ""


def test_an_agent_whose_source_cannot_be_read_is_native(tmp_path: Path) -> None:
    # Made by exec: inspect finds no source, so there is no evidence of another interface.
    source = (
        "namespace = {}\nexec('def agent(obs, config):\\n    return obs.mark', namespace)\nagent = namespace['agent']\n"
    )
    write(tmp_path, {"agent.py": source})
    loaded = load_agent(tmp_path, "agent.py")
    assert (loaded.layer, loaded.interface) == ("native", "function")
