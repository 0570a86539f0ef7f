"""One game's agent interface as JSON (`GET /api/v1/environments`), and the texts every game shares.

Cheap to import: the match runner (for its limits and statuses) is imported on the first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlarena.agent_runtime.loader import ACCEPTED_FORMS
from rlarena.environments.base import EnvironmentSpec
from rlarena.environments.guide import AGENT_PYTHON_VERSION, COMMON_CONFIGURATION, Field, guide_of
from rlarena.house.catalogue import for_game

if TYPE_CHECKING:
    from rlarena.executor.runner import MatchLimits

DOCUMENT = "docs/agents.md"


def packages_text() -> str:
    """What agents can import, from the agent runtime's one list (rlarena/sandbox/agent_packages.txt)."""
    from rlarena.config import Settings
    from rlarena.sandbox.agent_venv import listed

    names = ", ".join(f"{pin.name} {pin.version}" for pin in listed())
    fields = Settings.model_fields
    unpacked, files = fields["archive_max_unpacked_bytes"].default, fields["archive_max_files"].default
    return (
        f"Python {AGENT_PYTHON_VERSION} with its standard library and the agent runtime's packages: {names} "
        "(`import numpy`, `import chess` for python-chess, `import onnxruntime` for ONNX models on the CPU), "
        "the same on the local platform and on Kubernetes. The runtime is read-only. Numerical libraries "
        "run on one thread (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are 1, and an "
        "onnxruntime session gets one intra-op and one inter-op thread unless its SessionOptions ask for "
        "more): an agent has one CPU. Model files (.npz, .onnx, ...) travel in the upload and load by a "
        'path relative to the agent\'s folder, which is its working folder: `np.load("weights.npz")`; '
        f"by default an upload may unpack to {unpacked // (1024 * 1024)} MiB in up to {files:,} files. "
        "Bring pure-Python modules of your own in the upload too (a .zip or .tar.gz; the agent's folder "
        "comes first on sys.path). On Kubernetes the agent's image is built from the agent-base image and "
        "a requirements.txt in the upload is installed there; the local platform installs it the same way. "
        "Binary wheels only (no setup.py runs), from the package index, dependencies resolved against the "
        "runtime's packages (which are not installed again), in a build step that alone has network access; "
        "at most 500 MB installed by default (REQUIREMENTS_MAX_BYTES), cached by content, read-only in "
        "matches, which stay offline. A package that cannot be installed is named in the build's error (no "
        "such package, only source distributions, no wheel for this Python, conflicting versions). The "
        "operator may turn local installs off (LOCAL_BUILD_INSTALL_REQUIREMENTS=false): then requirements.txt "
        "may only name packages the runtime has. An operator may add PyTorch (CPU) to "
        "the runtime (AGENT_RUNTIME_TORCH); it is off by default."
    )


def preinstalled() -> list[dict[str, str]]:
    from rlarena.sandbox.agent_venv import listed

    return [{"name": pin.name, "version": pin.version} for pin in listed()]


SIDES = (
    "In the board games player 0 moves first. Rated matches: the matchmaker gives each agent the side "
    "it did not play in its last match, so sides alternate (when both want the same side, the one "
    "paired first gets it: new agents, then the longest waiting). Manual matches (POST /api/v1/matches): "
    "agent1Id is player 0. The build's validation match plays the agent against a copy of itself, so it "
    "plays both sides."
)

# Each agent's status in a match record, and when it is given (rlarena.executor.runner).
STATUS_MEANINGS = {
    "OK": "played every move it was asked for",
    "ERROR": "crashed, could not be loaded, raised an exception in its act, or answered with something that "
    "is no action frame",
    "TIMEOUT": "was not ready within the start-up limit, or took longer for a move than the per-move limit "
    "plus what was left of its own overage bank",
    "INVALID": "returned an action that is not an integer (in chess: nor the UCI string of a legal move), "
    "or not one of the legal actions",
}


def failure_rules(limits: MatchLimits) -> str:
    from rlarena.executor.runner import ERROR_TEXT_CAP

    return (
        "An agent whose status is not OK loses the match and the other agent wins (score 1 to 0); the match's "
        "end reason names the status and the agent, e.g. `INVALID by <agent id>: ...`. When both fail in the "
        "same step the match is a draw (0.5 each) with both statuses recorded. The agent's error message "
        f"(with its traceback, {ERROR_TEXT_CAP:,} characters at most) and its output (print goes to stderr; "
        f"the first {limits.stderr_cap_chars:,} characters) are kept for its owner: "
        "GET /api/v1/matches/{id}/logs. Its `lines` give that output line by line, each with the replay "
        "`frame` it was printed during (`[{frame, text}]`), so a line can be read beside the move it came "
        "from: the match page on the web shows your agents' lines beside the replay, following its slider."
    )


def describe(spec: EnvironmentSpec) -> dict[str, Any]:
    """The agent interface of a registered game, as the API answers it."""
    from rlarena.executor.runner import MatchLimits

    guide = guide_of(spec.id)
    limits = MatchLimits.from_spec(spec)
    return {
        "summary": guide.summary,
        "agentForms": list(ACCEPTED_FORMS),
        "observation": {"fields": [_field(field) for field in guide.observation]},
        "configuration": {
            "fields": [
                *(_field(field) for field in COMMON_CONFIGURATION),
                *(
                    {"name": p.name, "type": _type_of(p.value), "meaning": p.meaning, "value": p.value}
                    for p in guide.parameters
                ),
            ],
            "parameters": {parameter.name: parameter.value for parameter in guide.parameters},
        },
        "actions": guide.actions,
        "turns": guide.turns,
        "sides": SIDES,
        "limits": limits_of(limits),
        "endConditions": [
            {"reason": ending.reason, "result": ending.result, "meaning": ending.meaning} for ending in guide.endings
        ],
        "statuses": dict(STATUS_MEANINGS),
        "failures": failure_rules(limits),
        "packages": {"python": AGENT_PYTHON_VERSION, "preinstalled": preinstalled(), "summary": packages_text()},
        "houseAgents": [{"name": agent.reference, "description": agent.description} for agent in for_game(spec.id)],
        "documentation": f"{DOCUMENT}#{spec.id}",
        "compatibility": _compatibility(),
    }


def _compatibility() -> dict[str, Any]:
    from rlarena.agent_docs import compat

    return {"layers": compat.layers(), "documentation": f"{DOCUMENT}#{compat.ANCHOR}"}


def seeded_config(spec: EnvironmentSpec, seeded: dict[str, Any]) -> dict[str, Any]:
    """The `config` an environment row was seeded with (migration 0001), its keys kept, with what
    the registry knows now written over it: a snapshot must not contradict the runner."""
    return {
        **seeded,
        "players": spec.players,
        "observation": spec.observation,
        "actions": spec.actions,
        "moveTimeoutSec": spec.move_timeout_s,
        "overageSec": spec.overage_s,
        "startupTimeoutSec": spec.startup_timeout_s,
        "matchTimeoutSec": spec.match_timeout_s,
        "maxSteps": spec.max_steps,
    }


def limits_of(limits: MatchLimits) -> dict[str, Any]:
    sandbox = limits.sandbox()
    return {
        "moveTimeoutS": limits.move_timeout_s,
        "overageS": limits.overage_s,
        "startupTimeoutS": limits.startup_timeout_s,
        "matchTimeoutS": limits.match_timeout_s,
        "memoryBytes": sandbox.memory_bytes,
        "maxProcesses": sandbox.max_processes,
        "maxFileBytes": sandbox.max_file_bytes,
        "tmpBytes": sandbox.tmp_bytes,
        "cpus": sandbox.cpus,
        "network": sandbox.network,
        "logCapChars": limits.stderr_cap_chars,
    }


def _field(field: Field) -> dict[str, str]:
    return {"name": field.name, "type": field.type, "meaning": field.meaning}


def _type_of(value: object) -> str:
    if isinstance(value, list):
        return f"{_type_of(value[0])}[{len(value)}]"
    return "int" if isinstance(value, int) else "float"
