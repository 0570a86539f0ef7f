"""Replays: rendering a recorded match (the executor's replay JSON) for people to watch.

`player_js()` is the one replay player (player.js, plain JavaScript): the self-contained HTML
replay inlines it (rlarena.replays.html) and the web app's match page serves it as a static file.
Both call `RLArenaReplay.mount(element, replayJson)`.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

PLAYER_GLOBAL = "RLArenaReplay"


@cache
def player_js() -> str:
    """The replay player's source text (read once, on first use)."""
    return files(__name__).joinpath("player.js").read_text(encoding="utf-8")
