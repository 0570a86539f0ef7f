"""`rlarena executor` as a real process: answers gRPC health checks and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import grpc

from rlarena.grpc_gen import executor_pb2, executor_pb2_grpc
from tests.support.postgres import free_port
from tests.support.running_platform import BIN


def test_the_executor_serves_health_checks_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "executor.log"
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "INFO"}
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "rlarena"), "executor", "--address", f"127.0.0.1:{port}"],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = executor_pb2_grpc.ExecutorStub(channel)  # type: ignore[no-untyped-call]
        health = stub.HealthCheck(executor_pb2.HealthCheckRequest(), timeout=10)
        assert health.healthy
        assert health.max_concurrent_matches == 2
        assert health.active_matches == 0
        channel.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert f"listening on port {port}" in text
    assert "RL Arena executor stopped." in text
