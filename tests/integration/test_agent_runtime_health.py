"""GET /health and GET /api/v1/environments say what agents can import on this platform."""

from __future__ import annotations

import pytest

from rlarena.sandbox import agent_venv
from tests.support.api import ApiClient

MISSING = "/opt/rlarena/no-such-agent-runtime"


def test_health_names_the_runtime_and_its_packages(api: ApiClient) -> None:
    reply = api.get("/health")
    assert reply.status_code == 200
    runtime = reply.json["agentRuntime"]
    assert runtime["state"] == "ready", runtime
    for pin in agent_venv.wanted():
        assert runtime["packages"][agent_venv.normalized(pin.name)] == pin.version
    assert str(agent_venv.default_dir()) in runtime["detail"]


@pytest.mark.parametrize("settings_overrides", [{"AGENT_RUNTIME_DIR": MISSING}])
def test_health_says_when_the_runtime_is_missing_and_how_to_make_it(api: ApiClient) -> None:
    runtime = api.get("/health").json["agentRuntime"]
    assert runtime["state"] == "missing"
    assert runtime["packages"] == {}
    assert MISSING in runtime["detail"] and "make agent-runtime" in runtime["detail"]


def test_every_environment_lists_the_preinstalled_packages(api: ApiClient) -> None:
    environments = api.get("/api/v1/environments").json["environments"]
    expected = [{"name": pin.name, "version": pin.version} for pin in agent_venv.listed()]
    assert len(environments) == 4
    for environment in environments:
        packages = environment["packages"]
        assert packages["preinstalled"] == expected
        assert "numpy" in packages["summary"] and "onnxruntime" in packages["summary"]
