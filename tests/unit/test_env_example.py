"""`.env.example` documents exactly the variables the settings object reads."""

from __future__ import annotations

import re

from rlarena.config import Settings
from tests.conftest import ROOT


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))
    read = {field.alias for field in Settings.model_fields.values() if field.alias}
    assert documented == read
