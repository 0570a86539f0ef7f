"""Code written for one game, uploaded to an agent of another: refused with a message saying so.

An upload may declare its game with a module-level constant in its entry point,
`ENVIRONMENT = "chess"` (any id `GET /api/v1/environments` lists, with or without its version; case,
spaces and underscores do not matter). It is compared with the agent's environment twice: read
from the source at intake, before anything is stored (`domain/python_sources.py`, a string literal,
never running the code, in a sandboxed child), and as the loaded module's value reported by the
builder's probe (so a value imported from another file of the upload counts too). Without the
constant nothing is checked here; the validation match then shows code for the wrong game through
its illegal actions.
"""

from __future__ import annotations

from rlarena.domain.python_sources import ENVIRONMENT_CONSTANT
from rlarena.environments.registry import UnknownEnvironment, available, spec_of


def environment_mismatch(declared: str | None, environment_id: str, where: str = "the agent") -> str | None:
    """What the user must fix when `declared` is not the agent's environment; None when it is (or is absent)."""
    if declared is None:
        return None
    try:
        agent = spec_of(environment_id)
    except UnknownEnvironment:
        return None  # not a game of this platform's: nothing to compare with (never an agent's)
    try:
        spec = spec_of(_normalised(declared))
    except UnknownEnvironment:
        known = ", ".join(found.id for found in available())
        return (
            f"{where} declares {ENVIRONMENT_CONSTANT} = {declared!r}, which is not a game of this platform "
            f"(known: {known}): set it to {agent.id!r}, the game of this agent, or remove it"
        )
    if spec.id == agent.id:
        return None
    return (
        f"{where} declares {ENVIRONMENT_CONSTANT} = {declared!r}, but this agent plays {agent.name} "
        f"({agent.id}): upload code written for {agent.id} (its actions are {agent.actions}), "
        f"or create a {spec.id} agent for this code"
    )


def _normalised(declared: str) -> str:
    return "-".join(declared.strip().lower().replace("_", " ").split())
