"""The generated gRPC code is exactly what protos/ produces today (never edited by hand)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import ROOT


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("protos_generate", ROOT / "protos" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    fresh = _generator().generate(tmp_path)  # type: ignore[attr-defined]
    committed = ROOT / "shared" / "src" / "rlarena" / "grpc_gen"
    assert fresh, "protos/ produced nothing"
    for path in fresh:
        assert (committed / path.name).read_text() == path.read_text(), (
            f"{path.name} is stale: run `make protos` and commit the result"
        )
    assert {p.name for p in committed.glob("*_pb2*.py*")} == {p.name for p in fresh}


def test_the_service_keeps_the_old_contract() -> None:
    from rlarena.grpc_gen import executor_pb2

    service = executor_pb2.DESCRIPTOR.services_by_name["Executor"]
    assert {m.name for m in service.methods} == {"RunMatch", "ValidateAgent", "HealthCheck"}
    request = executor_pb2.MatchRequest.DESCRIPTOR.fields_by_name
    assert {"match_id", "environment", "agents", "timeout_sec", "record_replay"} <= set(request)
    response = executor_pb2.MatchResponse.DESCRIPTOR.fields_by_name
    assert {"match_id", "status", "winner_agent_id", "agent_results", "replay_url", "replay_html_url",
            "error_message", "total_steps", "execution_time_sec"} <= set(response)  # fmt: skip
    assert executor_pb2.MatchStatus.Name(0) == "UNKNOWN"
