"""The agents function pins gunicorn's threads: functions-framework's default is 4 x the node's
CPUs, and a Pod of one CPU serving short reads loses throughput to GIL hand-offs with many threads
(bench/read_throughput.py: 16 threads 785 req/s against 1,164 with 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ROOT / "knative" / "base" / "serving" / "agents.yaml"


def _spec() -> dict[str, Any]:
    service = yaml.safe_load(AGENTS.read_text())
    return service["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_the_agents_service_pins_its_gunicorn_threads_to_a_few_per_cpu() -> None:
    spec = _spec()
    container = spec["containers"][0]
    env = {e["name"]: e.get("value") for e in container.get("env") or []}
    assert "THREADS" in env, "without it, functions-framework runs 4 x the node's CPUs threads"
    threads = int(env["THREADS"])
    cpus = float(str(container["resources"]["limits"]["cpu"]).removesuffix("m")) / 1000
    assert 1 <= threads <= 8 * max(cpus, 1)
    assert threads <= spec["containerConcurrency"]


def test_the_deploy_guide_names_the_pinned_threads() -> None:
    guide = " ".join((ROOT / "docs" / "DEPLOY.md").read_text().split())
    env = {e["name"]: e.get("value") for e in _spec()["containers"][0].get("env") or []}
    assert f"`THREADS`: {env['THREADS']} in `serving/agents.yaml`" in guide
