"""A line added to an agent's error when it looks written for another interface than the one it got.

Standard library only (runs next to the agent). A Kaggle agent reading `obs.board` on the native
observation fails with "'dict' object has no attribute 'board'", an old rl-arena agent reading
`observation[1]` with "KeyError: 1": both are told which `INTERFACE` to declare.
"""

from __future__ import annotations

from rlarena.agent_runtime import kaggle, legacy
from rlarena.agent_runtime.loader import NATIVE

_SECTION = "docs/agents.md: Coming from Kaggle or the old rl-arena"


def mismatch_hint(error: BaseException, layer: str) -> str:
    """ "" or a sentence (with its leading space) saying which layer the failing code expects."""
    if layer != NATIVE:
        return ""
    if isinstance(error, AttributeError) and "'dict' object has no attribute" in str(error):
        return (
            f" (the observation and configuration are dicts: read them by key, or declare "
            f'INTERFACE = "{kaggle.NAME}" to get Kaggle\'s obs.board, obs.mark ...; see {_SECTION})'
        )
    if isinstance(error, KeyError) and error.args and isinstance(error.args[0], int | slice):
        return (
            f' (the observation is a dict whose "observation" field holds the list; declare '
            f'INTERFACE = "{legacy.NAME}" to be given the plain list as the old rl-arena did; see {_SECTION})'
        )
    return ""
