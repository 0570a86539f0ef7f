"""The compatibility layers as GET /environments and docs/agents.md describe them: the loader's own
layers, each declared as the loader reads it, and a section the API's link lands on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rlarena.agent_docs.interface import describe
from rlarena.agent_runtime.kaggle import configuration_of
from rlarena.agent_runtime.loader import LAYERS, load_agent
from rlarena.environments.registry import spec_of
from tests.conftest import ROOT

DOC = ROOT / "docs" / "agents.md"


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


def test_every_game_lists_the_loaders_layers_and_links_the_section() -> None:
    compatibility = describe(spec_of("connect-four"))["compatibility"]
    assert [layer["name"] for layer in compatibility["layers"]] == list(LAYERS)
    document, anchor = compatibility["documentation"].split("#")
    headings = [_slug(line[3:]) for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("## ")]
    assert document == "docs/agents.md" and anchor in headings


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_is_chosen_by_the_declaration_the_api_shows(tmp_path: Path, layer: str) -> None:
    declared = next(
        entry["declare"] for entry in describe(spec_of("pong"))["compatibility"]["layers"] if entry["name"] == layer
    )
    (tmp_path / "agent.py").write_text(f"{declared}\n\ndef agent(observation, configuration):\n    return 1\n")
    assert load_agent(tmp_path, "agent.py").layer == layer


def test_the_docs_kaggle_configuration_is_what_a_kaggle_agent_receives() -> None:
    spec = spec_of("connect-four")
    native = {"max_steps": spec.max_steps, "move_timeout_s": spec.move_timeout_s, "overage_s": spec.overage_s}
    received = configuration_of(native)
    text = DOC.read_text(encoding="utf-8")
    for key in ("episodeSteps", "actTimeout", "agentTimeout"):
        row = next(line for line in text.splitlines() if line.startswith(f"| `{key}` |"))
        # Columns: key, meaning, then one per game in the guides' order (connect-four is second).
        assert row.split(" | ")[3] == f"`{json.dumps(received[key])}`"
