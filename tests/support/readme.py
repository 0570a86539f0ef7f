"""The README's "Try it" walk-through, read as a user copies it."""

from __future__ import annotations

import re

from tests.conftest import ROOT

_SAMPLE = re.compile(r"cat > agent\.py <<'EOF'\n(?P<code>.*?\n)EOF\n", re.S)
_ENVIRONMENT = re.compile(r'"environmentId":"(?P<environment>[a-z-]+)"')


def readme_sample_agent() -> tuple[str, str]:
    """The sample agent's code and the game the README creates its agent for."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sample, environment = _SAMPLE.search(text), _ENVIRONMENT.search(text)
    assert sample and environment, "README.md no longer writes agent.py with a heredoc for a created agent"
    return sample["code"], environment["environment"]
