"""Warm sandboxes against hostile agents: real matches on the executor's runner, each agent a forked
copy of its zygote in the strict sandbox (rlarena.executor.warm_agents, rlarena.agent_runtime.zygote).

As in test_hostile_agents, each attacker prints one `ATTACK {json}` line saying what it tried and
found; each test asserts that the attack ran, then that nothing of one match reached the next and
that the warm parents were really used (`WarmAgents.started` counts zygotes).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlarena.environments import registry
from rlarena.executor.runner import OK, AgentSpec, MatchLimits, MatchResult, run_match
from rlarena.executor.warm_agents import WarmAgents
from rlarena.sandbox import support
from rlarena.sandbox.process import MiB
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime
from tests.support.hostile import REPORT, attack_report, live_processes_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the strict sandbox's pool uids and cgroups need root")

FAST = {"move_timeout_s": 2.0, "overage_s": 2.0, "startup_timeout_s": 15.0, "match_timeout_s": 40.0}

VICTIM = """
def agent(observation, configuration):
    return observation["action_mask"].index(1)
"""

# Probes for anything an earlier match left, then leaves all of it for the next match.
PROBE_AND_PLANT = """
import ctypes, signal, threading, time

MINE = None
COUNTER = [0]
libc = ctypes.CDLL(None, use_errno=True)

def others():
    return sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit() and int(pid) not in (1, os.getpid()))

def scratch():
    import rlarena.agent_runtime as runtime
    mine = (os.path.dirname(os.getcwd()), runtime.__file__.rsplit("/rlarena/", 1)[0])
    found = []
    for top in ("/tmp", "/dev/shm"):
        for folder, _, files in os.walk(top):
            found += [os.path.join(folder, name) for name in files if not folder.startswith(mine)]
    return found

def attempt(call):
    try:
        call()
        return "done"
    except OSError as error:
        return error.strerror

def strike():
    COUNTER[0] += 1
    with open("/proc/sysvipc/shm") as table:
        segments = table.read().splitlines()[1:]
    uids = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                uids.add(os.stat("/proc/" + pid).st_uid)
            except OSError:
                pass
    ptrace = libc.ptrace(16, 1, 0, 0)  # PTRACE_ATTACH the warm parent
    report(
        "probe",
        counter=COUNTER[0],
        files=scratch(),
        processes=others(),
        threads=threading.active_count(),
        segments=segments,
        uids=sorted(uids),
        parent_mem=attempt(lambda: open("/proc/1/mem", "rb").close()),
        ptrace=[ptrace, ctypes.get_errno()],
    )
    # Leave everything for the next match.
    for folder in ("/tmp", "/dev/shm"):
        with open(os.path.join(folder, "left-for-the-next-match"), "w") as handle:
            handle.write("secret note")
    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
        os._exit(0)
    shmid = libc.shmget(0x5EED, 4096, 0o1000 | 0o600)  # IPC_CREAT
    signals = [attempt(lambda: os.kill(1, number)) for number in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM)]
    report("plant", shmid=shmid, signals=signals, processes=others())

struck = False

def agent(observation, configuration):
    global struck
    if not struck:
        struck = True
        strike()
    return observation["action_mask"].index(1)
"""


@pytest.fixture(scope="module", autouse=True)
def strict_sandbox() -> None:
    found = support.detect()
    assert found.strict, f"the strict sandbox is incomplete here: {found.missing} {found.problems}"


@pytest.fixture(scope="module")
def runtime() -> AgentRuntime:
    return install_runtime(agent_python(None))


@pytest.fixture
def root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-warm-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def warm() -> Iterator[WarmAgents]:
    pool = WarmAgents(memory_budget_bytes=1024 * MiB)
    yield pool
    pool.close()
    deadline = time.monotonic() + 5
    while (left := live_processes_of(pool.uids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"sandbox processes outlived their pool: {left}"


def agent_folder(root: Path, name: str, code: str) -> AgentSpec:
    folder = root / name
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(code))
    return AgentSpec(agent_id=name, folder=folder, entry_point="main.py")


def play(runtime: AgentRuntime, agents: list[AgentSpec], seed: int, warm: WarmAgents | None) -> MatchResult:
    limits = MatchLimits.from_spec(registry.spec_of("tic-tac-toe"), **FAST)
    return run_match("tic-tac-toe", agents, seed=seed, runtime=runtime, limits=limits, warm=warm)


def assert_fair(result: MatchResult) -> None:
    statuses = [(r.status, r.error_message) for r in result.agent_results]
    assert [status for status, _ in statuses] == [OK, OK], statuses
    assert result.total_steps >= 5


def actions_of(result: MatchResult) -> list[Any]:
    assert result.replay is not None
    return [frame["actions"] for frame in result.replay["frames"]]


def test_nothing_of_one_match_reaches_the_next_and_the_warm_parent_survives(
    runtime: AgentRuntime, root: Path, warm: WarmAgents
) -> None:
    victim = agent_folder(root, "victim", VICTIM)
    attacker = agent_folder(root, "attacker", REPORT + PROBE_AND_PLANT)
    results = [play(runtime, [victim, attacker], seed, warm) for seed in range(3)]
    for result in results:
        assert_fair(result)
        probe = attack_report(result.agent_results[1].stderr, "probe")
        assert probe["counter"] == 1, probe  # module globals start from the warm state
        assert probe["files"] == [], probe
        assert probe["processes"] == [], probe  # no thread, process or segment of the last match
        assert probe["threads"] == 1, probe
        assert probe["segments"] == [], probe
        assert len(probe["uids"]) == 1, probe  # only its own processes: no opponent, no platform
        assert probe["parent_mem"] == "Permission denied", probe
        assert probe["ptrace"][0] == -1, probe
        planted = attack_report(result.agent_results[1].stderr, "plant")
        assert planted["shmid"] >= 0 and len(planted["processes"]) >= 1, planted  # the plants took
        assert planted["signals"] == ["done", "done", "done"], planted  # sent, and dropped by the kernel
    assert warm.started == 2  # one zygote per agent, both alive through every match


def test_copies_of_one_agent_on_both_sides_get_two_sandboxes(
    runtime: AgentRuntime, root: Path, warm: WarmAgents
) -> None:
    killer = agent_folder(
        root,
        "killer",
        REPORT
        + """
struck = False

def agent(observation, configuration):
    global struck
    if not struck:
        struck = True
        visible = sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit())
        report("look", visible=visible, me=os.getpid(), uid=os.getuid())
    return observation["action_mask"].index(1)
""",
    )
    first = play(runtime, [killer, killer], 1, warm)
    second = play(runtime, [killer, killer], 2, warm)
    assert_fair(first)
    assert_fair(second)
    looks = [attack_report(result.agent_results[p].stderr, "look") for result in (first, second) for p in (0, 1)]
    assert all(look["visible"] == [1, look["me"]] for look in looks), looks  # its warm parent and itself only
    assert looks[0]["uid"] != looks[1]["uid"]  # a pool uid of its own for each side
    assert {looks[2]["uid"], looks[3]["uid"]} == {looks[0]["uid"], looks[1]["uid"]}  # the same zygotes again
    assert warm.started == 2  # two zygotes for the two sides, reused by the second match


def test_a_copy_that_kills_everything_it_can_leaves_its_opponent_and_warm_parent(
    runtime: AgentRuntime, root: Path, warm: WarmAgents
) -> None:
    killer = agent_folder(
        root,
        "killer",
        REPORT
        + """
import signal
moves = 0

def agent(observation, configuration):
    global moves
    moves += 1
    if moves == 2:
        report("kill-all", sent=True)
        try:
            os.kill(-1, signal.SIGKILL)  # every process it may signal, but itself and its ns init
        except OSError as error:
            report("kill-all-failed", error=str(error))
    return observation["action_mask"].index(1)
""",
    )
    victim = agent_folder(root, "victim", VICTIM)
    for seed in range(2):
        result = play(runtime, [victim, killer], seed, warm)
        attack_report(result.agent_results[1].stderr, "kill-all")
        assert_fair(result)
    assert warm.started == 2


# Run at import: what an earlier match's import left, then the plant given (the import runs in each copy).
IMPORT_PROBE = """
import threading

def _leftovers():
    processes = sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit() and int(pid) not in (1, os.getpid()))
    files = [name for name in os.listdir("/tmp") if name == "state"] + os.listdir("/dev/shm")
    return processes, files

_processes, _files = _leftovers()
report("import-probe", pid=os.getpid(), processes=_processes, files=_files, threads=threading.active_count())
"""


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("thread", "import threading, time\nthreading.Thread(target=time.sleep, args=(600,), daemon=True).start()"),
        ("process", "import os, time\nif os.fork() == 0:\n    time.sleep(600)\n    os._exit(0)"),
        ("file", "open('/tmp/state', 'w').write('x')\nopen('/dev/shm/state', 'w').write('x')"),
        ("shared-memory", "import mmap\nSHARED = mmap.mmap(-1, 4096)"),
        ("descriptor", "import os\nPIPE = os.pipe()"),
    ],
)
def test_an_agent_whose_import_leaves_state_behind_plays_warm_and_the_next_match_finds_none_of_it(
    runtime: AgentRuntime, root: Path, warm: WarmAgents, name: str, code: str
) -> None:
    agent = agent_folder(root, name, REPORT + IMPORT_PROBE + code + "\n" + VICTIM)
    victim = agent_folder(root, "victim", VICTIM)
    for seed in range(3):
        result = play(runtime, [victim, agent], seed, warm)
        assert_fair(result)
        probe = attack_report(result.agent_results[1].stderr, "import-probe")
        assert probe["pid"] != 1, probe  # the agent's code runs in the copy, never in the warm parent
        assert (probe["processes"], probe["files"], probe["threads"]) == ([], [], 1), probe
    assert warm.cold_reason(agent.folder, "main.py") == ""
    assert warm.started == 2  # warm through every match


# Rebinds the warm parent's functions (the zygote runs as __main__) so that /tmp would not be
# emptied between matches, then keeps a note there: the copy it runs in is the only one it changes.
HIJACK = """
import sys
main = sys.modules["__main__"]
patched = [name for name in ("_clean_scratch", "unclean", "_end_match") if hasattr(main, name)]
main._clean_scratch = lambda: None
main.unclean = lambda *args: ""
main._end_match = lambda child, status: status
try:
    with open("/tmp/memory") as note:
        remembered = note.read()
except OSError:
    remembered = ""
with open("/tmp/memory", "a") as note:
    note.write("seen a match;")
report("hijack", patched=patched, module=getattr(main, "__spec__", None) and main.__spec__.name, remembered=remembered)
"""


def test_an_agent_that_rebinds_its_warm_parents_code_changes_only_its_own_copy(
    runtime: AgentRuntime, root: Path, warm: WarmAgents
) -> None:
    attacker = agent_folder(root, "hijacker", REPORT + HIJACK + VICTIM)
    victim = agent_folder(root, "victim", VICTIM)
    for seed in range(3):
        result = play(runtime, [victim, attacker], seed, warm)
        assert_fair(result)
        hijack = attack_report(result.agent_results[1].stderr, "hijack")
        assert hijack["module"] == "rlarena.agent_runtime.zygote", hijack  # it found the zygote's code
        assert hijack["patched"] == ["_clean_scratch", "unclean", "_end_match"], hijack  # and rebound it
        assert hijack["remembered"] == "", hijack  # yet no match remembers the last one
    assert warm.cold_reason(attacker.folder, "main.py") == ""
    assert warm.started == 2


# A module named as a library the zygote loads for agents, hoping the zygote runs it instead.
SHADOW_NUMPY = """
import json, os, sys
print("ATTACK " + json.dumps({"attack": "shadow", "pid": os.getpid()}), file=sys.stderr, flush=True)
def argmax(values):
    return max(range(len(values)), key=values.__getitem__)
"""


def test_a_module_shadowing_a_preloaded_library_runs_in_the_copy_only(
    runtime: AgentRuntime, root: Path, warm: WarmAgents
) -> None:
    shadow = agent_folder(
        root,
        "shadow",
        "import numpy\n\ndef agent(observation, configuration):\n    return numpy.argmax(observation['action_mask'])\n",
    )
    (shadow.folder / "numpy.py").write_text(SHADOW_NUMPY)
    victim = agent_folder(root, "victim", VICTIM)
    for seed in range(2):
        result = play(runtime, [shadow, victim], seed, warm)
        assert_fair(result)
        assert attack_report(result.agent_results[0].stderr, "shadow")["pid"] != 1  # its copy's, not the zygote's
    assert warm.cold_reason(shadow.folder, "main.py") == ""
    assert warm.started == 2


# The agent's own copy.py (a shim around the standard one), which python-chess imports: loaded by the
# zygote for chess, the standard copy would reach every copy where a cold start finds the agent's.
SHADOW_COPY = """
import importlib.util, json, os, sys, sysconfig
_path = os.path.join(sysconfig.get_paths()["stdlib"], "copy.py")
_spec = importlib.util.spec_from_file_location("_standard_copy", _path)
_standard = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_standard)
globals().update({name: value for name, value in vars(_standard).items() if not name.startswith("__")})
print("ATTACK " + json.dumps({"attack": "own-copy"}), file=sys.stderr, flush=True)
"""


def test_an_agent_whose_own_module_a_preloaded_library_would_import_plays_cold(
    runtime: AgentRuntime, root: Path, warm: WarmAgents
) -> None:
    agent = agent_folder(root, "own-copy", "import chess\n" + VICTIM)
    (agent.folder / "copy.py").write_text(SHADOW_COPY)
    victim = agent_folder(root, "victim", VICTIM)
    for seed in range(2):
        result = play(runtime, [agent, victim], seed, warm)
        assert_fair(result)
        attack_report(result.agent_results[0].stderr, "own-copy")  # chess got the agent's copy, as cold
    reason = warm.cold_reason(agent.folder, "main.py")
    assert "its own copy would replace what loading chess imported" in reason, reason
    assert warm.started == 2  # the refused zygote is not tried again


ONNX_AGENT = """
import numpy as np
import onnxruntime as ort

SESSION = ort.InferenceSession("policy.onnx", providers=["CPUExecutionProvider"])

def agent(observation, configuration):
    mask = np.array(observation["action_mask"], dtype=np.float32).reshape(1, 9)
    logits = SESSION.run(None, {"mask": mask})[0][0]
    return int(np.argmax(np.where(mask[0] > 0, logits, -np.inf)))
"""


def test_numpy_and_onnx_agents_play_warm(runtime: AgentRuntime, root: Path, warm: WarmAgents) -> None:
    import numpy as np

    from tests.support.onnx_models import linear_policy

    onnx = agent_folder(root, "onnx", ONNX_AGENT)
    (onnx.folder / "policy.onnx").write_bytes(linear_policy(np.eye(9, dtype=np.float32), np.zeros(9)))
    numpy_agent = agent_folder(root, "numpy", NUMPY_UNSEEDED)
    for seed in range(3):
        assert_fair(play(runtime, [onnx, numpy_agent], seed, warm))
    assert warm.cold_reason(onnx.folder, "main.py") == ""
    assert warm.cold_reason(numpy_agent.folder, "main.py") == ""
    assert warm.started == 2


SEEDED = """
import random
random.seed(11)

def agent(observation, configuration):
    return random.choice(observation["legal_actions"])
"""
NUMPY_SEEDED = """
import numpy as np
np.random.seed(5)

def agent(observation, configuration):
    return int(np.random.choice(observation["legal_actions"]))
"""
NUMPY_UNSEEDED = """
import numpy as np

def agent(observation, configuration):
    return int(np.random.choice(observation["legal_actions"]))
"""


def test_seeded_agents_play_the_same_games_warm_as_cold(runtime: AgentRuntime, root: Path, warm: WarmAgents) -> None:
    agents = [agent_folder(root, "seeded", SEEDED), agent_folder(root, "numpy-seeded", NUMPY_SEEDED)]
    cold = [actions_of(play(runtime, agents, seed, None)) for seed in range(3)]
    warmed = [actions_of(play(runtime, agents, seed, warm)) for seed in range(3)]
    assert warmed == cold
    assert warm.started == 2


def test_unseeded_generators_are_reseeded_in_every_copy(runtime: AgentRuntime, root: Path, warm: WarmAgents) -> None:
    agents = [agent_folder(root, "a", NUMPY_UNSEEDED), agent_folder(root, "b", NUMPY_UNSEEDED)]
    games = {str(actions_of(play(runtime, agents, 1, warm))) for _ in range(6)}
    assert len(games) > 1  # a copy of the same warm state would play the same game every time
    assert warm.started == 2


def test_idle_warm_sandboxes_are_reclaimed_least_recently_used_first(runtime: AgentRuntime, root: Path) -> None:
    x, y, z = (agent_folder(root, name, VICTIM) for name in ("x", "y", "z"))
    pool = WarmAgents(memory_budget_bytes=1024 * MiB)
    try:
        assert_fair(play(runtime, [x, y], 1, pool))
        sizes = [sandbox.memory_bytes() for sandboxes in pool._idle.values() for sandbox in sandboxes]
        assert len(sizes) == 2 and min(sizes) > 0
        pool.memory_budget_bytes = int(sum(sizes) * 1.3)  # room for two, not three
        assert_fair(play(runtime, [z, x], 2, pool))  # x is used again; y is now the least recent
        kept = {key.folder.name for key in pool._idle}
        assert kept == {"x", "z"}, kept
        assert pool.reclaimed == 1 and pool.started == 3
        pool.memory_budget_bytes = 0
        assert_fair(play(runtime, [x, z], 3, pool))
        assert pool.idle_count() == 0 and pool.reclaimed == 3
    finally:
        pool.close()


def test_a_killed_warm_parent_costs_a_cold_start_not_a_match(
    runtime: AgentRuntime, root: Path, warm: WarmAgents
) -> None:
    agents = [agent_folder(root, "a", VICTIM), agent_folder(root, "b", VICTIM)]
    assert_fair(play(runtime, agents, 1, warm))
    for sandboxes in warm._idle.values():
        for sandbox in sandboxes:
            group = sandbox._child.group
            assert group is not None
            for pid in group.pids():
                os.kill(pid, signal.SIGKILL)
    result = play(runtime, agents, 2, warm)
    assert_fair(result)  # both agents started cold for this match
    assert_fair(play(runtime, agents, 3, warm))
    assert warm.started == 4  # and warm again afterwards


def test_a_warm_parent_that_stops_answering_costs_a_cold_start_not_a_match(
    runtime: AgentRuntime, root: Path, warm: WarmAgents
) -> None:
    agents = [agent_folder(root, "a", VICTIM), agent_folder(root, "b", VICTIM)]
    limits = MatchLimits.from_spec(registry.spec_of("tic-tac-toe"), **{**FAST, "startup_timeout_s": 3.0})
    assert_fair(run_match("tic-tac-toe", agents, seed=1, runtime=runtime, limits=limits, warm=warm))
    stopped = [pid for sandboxes in warm._idle.values() for sandbox in sandboxes[:1] for pid in _pids(sandbox)][:2]
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)  # the zygote takes the fork request and never forks
    result = run_match("tic-tac-toe", agents, seed=2, runtime=runtime, limits=limits, warm=warm)
    assert_fair(result)  # the stopped side was restarted cold within the match
    assert warm.idle_count() == 1  # the stopped zygote was closed, the other one kept


def _pids(sandbox: Any) -> list[int]:
    group = sandbox._child.group
    assert group is not None
    return list(group.pids())


KEEPS_A_FILE_OPEN = """
MODEL = open("weights.txt")  # read lazily, as numpy's npz files are

def agent(observation, configuration):
    if configuration["step"] < 2:
        report("read", line=MODEL.readline().strip(), position=MODEL.tell())
    return observation["action_mask"].index(1)
"""


def test_a_file_kept_open_from_the_import_is_reopened_in_each_copy(
    runtime: AgentRuntime, root: Path, warm: WarmAgents
) -> None:
    reader = agent_folder(root, "reader", REPORT + KEEPS_A_FILE_OPEN)
    (reader.folder / "weights.txt").write_text("first line\nsecond line\n")
    victim = agent_folder(root, "victim", VICTIM)
    for seed in range(3):
        result = play(runtime, [reader, victim], seed, warm)
        assert_fair(result)
        read = attack_report(result.agent_results[0].stderr, "read")
        assert read == {"attack": "read", "line": "first line", "position": 11}, read  # no offset shared
    assert warm.cold_reason(reader.folder, "main.py") == ""
    assert warm.started == 2
