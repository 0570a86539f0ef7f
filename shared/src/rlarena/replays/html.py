"""One self-contained HTML page that plays a replay: no external URL, the replay JSON inline.

The replay is embedded as a `<script type="application/json">` block with `<`, `>`, `&` and the
JavaScript line separators escaped as JSON unicode escapes, so no string in it (an agent name, an
observation) can close the script element or open another; the page reads it back with
`JSON.parse` and hands it to the one replay player (player.js, inlined: `player_js()`), which only
ever writes text with `textContent`, never HTML. The summary at the top (the agents by name and
version, the winner, why the game ended) is written into the page itself, escaped, so it reads
without JavaScript too.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

from rlarena.replays import player_js

DATA_ELEMENT_ID = "replay-data"

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_PLACEHOLDER = re.compile(r"@@(TITLE|SUMMARY|DATA_ID|DATA|PLAYER)@@")


def embed_json(value: Any) -> str:
    """JSON text safe inside a script element: still valid JSON meaning exactly `value`.

    ASCII only (so U+2028/U+2029 and lone surrogates arrive escaped); NaN and infinities, which
    JSON cannot carry, become null.
    """
    text = json.dumps(_finite(value), ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)
    return "".join(_ESCAPES.get(char, char) for char in text)


def render_html(replay: dict[str, Any]) -> str:
    metadata = replay.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    title = f"RL Arena replay {metadata.get('match_id', '')} ({metadata.get('environment', '')})"
    values = {
        "TITLE": html.escape(str(title)),
        "SUMMARY": html.escape(summary(metadata)),
        "DATA_ID": DATA_ELEMENT_ID,
        "DATA": embed_json(replay),
        "PLAYER": player_js(),
    }
    # One pass: text substituted in is never scanned for placeholders again.
    return _PLACEHOLDER.sub(lambda found: values[found.group(1)], _TEMPLATE)


def summary(metadata: dict[str, Any]) -> str:
    """ "alpha (v3) vs beta (v1) | winner: alpha | checkmate": names where the replay has them."""
    ids = _listed(metadata.get("agents"))
    names = _listed(metadata.get("agent_names"))
    versions = _listed(metadata.get("agent_versions"))
    shown = [str(names[i]) if i < len(names) and names[i] else str(agent_id) for i, agent_id in enumerate(ids)]
    labels = [
        f"{name} (v{versions[i]})" if i < len(versions) and versions[i] is not None else name
        for i, name in enumerate(shown)
    ]
    winner = metadata.get("winner")
    if winner and winner in ids:
        outcome = f"winner: {shown[ids.index(winner)]}"
    else:
        outcome = "winner: none (draw)" if metadata.get("status", "SUCCESS") == "SUCCESS" else "not finished"
    parts = [" vs ".join(labels) or "?", outcome]
    if metadata.get("end_reason"):
        parts.append(f"ended: {metadata['end_reason']}")
    if metadata.get("is_rated") is not None:
        parts.append("rated" if metadata["is_rated"] else "unrated")
    return " | ".join(parts)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@@TITLE@@</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #0b1120; color: #e5e7eb; }
  main { max-width: 900px; margin: 0 auto; padding: 16px; }
  h1 { font-size: 1.2rem; margin: 0 0 8px; }
  .summary { font-size: 1rem; margin-bottom: 12px; }
</style>
</head>
<body>
<main>
  <h1>RL Arena replay</h1>
  <div class="summary" id="summary">@@SUMMARY@@</div>
  <div id="replay"></div>
</main>
<script type="application/json" id="@@DATA_ID@@">@@DATA@@</script>
<script>
@@PLAYER@@
RLArenaReplay.mount(document.getElementById("replay"),
  JSON.parse(document.getElementById("@@DATA_ID@@").textContent));
</script>
</body>
</html>
"""
