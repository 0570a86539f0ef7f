"""The Knative manifests as the tests read them: the folders and a kustomize render."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

KNATIVE = ROOT / "knative"
OVERLAYS = sorted(path.parent.name for path in (KNATIVE / "overlays").glob("*/kustomization.yaml"))
KUBECTL = Path(sys.executable).parent / "kubectl"


def _render(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
