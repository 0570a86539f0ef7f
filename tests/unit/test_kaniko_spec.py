"""The Kaniko backend's pure parts: Job names and specs, the Dockerfile, the build context, Job status."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from kubernetes.client import ApiClient

from rlarena.adapters import kubernetes_status
from rlarena.adapters.builders.base import BuildTicket, probe_report
from rlarena.adapters.builders.kaniko_context import (
    REQUIREMENTS_FAILED_MARKER,
    build_context,
    context_files,
    dockerfile,
    job_key,
    job_labels,
    job_name,
    requirement_problems,
    runtime_files,
)
from rlarena.adapters.builders.kaniko_jobs import (
    build_job_name,
    kaniko_job,
    scan_job,
    validation_job,
    validation_job_name,
)
from rlarena.adapters.kubernetes_pods import AGENT_UID, RUNTIME_ROOT
from rlarena.bootstrap import bootstrap
from rlarena.config import Settings
from rlarena.domain.archives import ArchiveLimits, read_upload
from rlarena.errors import ConfigurationError
from rlarena.events.publisher import RecordingPublisher
from tests.conftest import ROOT, make_settings
from tests.support.builds import RecordedProgress
from tests.support.pod_security import assert_untrusted_pod

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
S3_SECRET = "s3-secret-value-never-in-a-job"
S3_ACCESS = "s3-access-value-never-in-a-job"
AGENT = b"def agent(observation, configuration):\n    return 0\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        USE_K8S=True,
        S3_ENDPOINT="minio.rlarena.svc:9000",
        S3_ACCESS_KEY=S3_ACCESS,
        S3_SECRET_KEY=S3_SECRET,
        S3_BUCKET="agents",
        S3_REGION="eu-west-3",
        K8S_NAMESPACE="builds",
        CONTAINER_REGISTRY_URL="registry.example.com/rlarena",
        CONTAINER_REGISTRY_SECRET="push-credentials",
        BUILD_S3_SECRET="kaniko-s3",
        BUILD_TIMEOUT="15m",
    )


def ticket(attempt: int = 1, version: int = 3) -> BuildTicket:
    return BuildTicket(
        submission_id=uuid.UUID("0123abcd-4567-89ab-cdef-0123456789ab"),
        agent_id=uuid.UUID("fedcba98-7654-3210-fedc-ba9876543210"),
        user_id=uuid.uuid4(),
        environment_id="pong",
        version=version,
        attempt=attempt,
        source_key="submissions/a/b/source.zip",
        source_filename="bot.zip",
    )


def rendered(job: Any) -> dict[str, Any]:
    document: dict[str, Any] = ApiClient().sanitize_for_serialization(job)  # type: ignore[no-untyped-call]
    return document


def container(document: dict[str, Any]) -> dict[str, Any]:
    (only,) = document["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


# --- names and labels ---------------------------------------------------------------------------


def test_job_names_are_deterministic_per_attempt_and_dns_safe() -> None:
    first = build_job_name(ticket())
    assert first == build_job_name(ticket())
    assert first == "build-0123abcd456789abcdef0123456789ab-v3-a1"
    assert build_job_name(ticket(attempt=2)) != first
    assert validation_job_name(ticket()) == "validate-0123abcd456789abcdef0123456789ab-v3-a1"
    for name in (first, validation_job_name(ticket(attempt=999, version=10**9))):
        assert len(name) <= 63 and DNS_LABEL.match(name), name


def test_submissions_sharing_an_id_prefix_never_share_a_job_name() -> None:
    one = uuid.UUID("0123abcd-0000-4000-8000-000000000001")
    two = uuid.UUID("0123abcd-0000-4000-8000-000000000002")
    assert job_name("build", one, 1, 1) != job_name("build", two, 1, 1)


def test_overlong_names_are_cut_to_a_dns_label_and_stay_distinct() -> None:
    long_a = job_name("a-very-long-role-name-indeed", uuid.uuid4(), 10**12, 10**6)
    long_b = job_name("a-very-long-role-name-indeed", uuid.uuid4(), 10**12, 10**6)
    assert len(long_a) <= 63 and DNS_LABEL.match(long_a)
    assert long_a != long_b


def test_labels_name_the_attempt_and_read_back() -> None:
    labels = job_labels("build", ticket().submission_id, 4)
    assert labels == {
        "app.kubernetes.io/part-of": "rlarena",
        "rlarena.dev/role": "build",
        "rlarena.dev/submission": "0123abcd-4567-89ab-cdef-0123456789ab",
        "rlarena.dev/attempt": "4",
    }
    key = job_key(labels)
    assert key is not None and (key.submission_id, key.attempt, key.role) == (ticket().submission_id, 4, "build")
    assert job_key({**labels, "app.kubernetes.io/part-of": "someone-else"}) is None
    assert job_key({**labels, "rlarena.dev/role": "match"}) is None
    assert job_key({**labels, "rlarena.dev/attempt": "one"}) is None
    assert job_key({}) is None


# --- the Kaniko Job -----------------------------------------------------------------------------


def test_the_kaniko_job_builds_from_the_bucket_and_pushes_one_tag_per_version(settings: Settings) -> None:
    document = rendered(kaniko_job(settings, ticket(), "agent.py"))
    kaniko = container(document)
    assert kaniko["image"] == "ghcr.io/osscontainertools/kaniko:latest"
    destination = (
        "registry.example.com/rlarena/fedcba98-7654-3210-fedc-ba9876543210:0123abcd-4567-89ab-cdef-0123456789ab-v3"
    )
    assert kaniko["args"] == [
        "--dockerfile=Dockerfile",
        "--context=s3://agents/builds/0123abcd-4567-89ab-cdef-0123456789ab/attempt-1/context.tar.gz",
        f"--destination={destination}",
        "--cache=true",
        "--cache-ttl=24h",
        "--cache-repo=registry.example.com/rlarena/cache",
    ]
    assert document["metadata"]["annotations"] == {
        "rlarena.dev/image": destination,
        "rlarena.dev/entry-point": "agent.py",
    }


def test_the_cache_repository_can_be_set(settings: Settings) -> None:
    custom = settings.model_copy(update={"kaniko_cache_repo": "cache.example.com/layers"})
    assert "--cache-repo=cache.example.com/layers" in container(rendered(kaniko_job(custom, ticket(), "a.py")))["args"]


def test_kaniko_reaches_s3_with_keys_from_a_secret_never_inline(settings: Settings) -> None:
    document = rendered(kaniko_job(settings, ticket(), "agent.py"))
    env = {item["name"]: item for item in container(document)["env"]}
    assert env["S3_ENDPOINT"]["value"] == "http://minio.rlarena.svc:9000"
    assert env["S3_FORCE_PATH_STYLE"]["value"] == "true"
    assert env["AWS_REGION"]["value"] == "eu-west-3"
    assert env["AWS_ACCESS_KEY_ID"] == {
        "name": "AWS_ACCESS_KEY_ID",
        "valueFrom": {"secretKeyRef": {"name": "kaniko-s3", "key": "access-key"}},
    }
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "kaniko-s3", "key": "secret-key"}}
    text = json.dumps(document)
    assert S3_SECRET not in text and S3_ACCESS not in text
    secure = settings.model_copy(update={"s3_secure": True})
    secure_env = {item["name"]: item for item in container(rendered(kaniko_job(secure, ticket(), "a.py")))["env"]}
    assert secure_env["S3_ENDPOINT"]["value"] == "https://minio.rlarena.svc:9000"


def test_kaniko_gets_the_registry_credentials_as_a_read_only_docker_config(settings: Settings) -> None:
    document = rendered(kaniko_job(settings, ticket(), "agent.py"))
    pod = document["spec"]["template"]["spec"]
    (volume,) = pod["volumes"]
    assert volume["secret"]["secretName"] == "push-credentials"
    assert volume["secret"]["items"] == [{"key": ".dockerconfigjson", "path": "config.json"}]
    (mount,) = container(document)["volumeMounts"]
    assert mount == {"name": volume["name"], "mountPath": "/kaniko/.docker", "readOnly": True}


def test_the_kaniko_job_runs_once_within_the_build_timeout_without_a_token(settings: Settings) -> None:
    document = rendered(kaniko_job(settings, ticket(), "agent.py"))
    spec = document["spec"]
    pod = spec["template"]["spec"]
    assert document["metadata"]["namespace"] == "builds"
    assert spec["backoffLimit"] == 0
    validation = rendered(validation_job(settings, ticket(), "registry.example.com/a:b", "a.py"))["spec"]
    # Build and validation together fit in BUILD_TIMEOUT, after which the queue presumes them lost.
    assert spec["activeDeadlineSeconds"] + validation["activeDeadlineSeconds"] == timedelta(minutes=15).total_seconds()
    assert spec["ttlSecondsAfterFinished"] > 0
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(document)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert "SYS_ADMIN" not in security["capabilities"]["add"] and "NET_RAW" not in security["capabilities"]["add"]
    assert set(container(document)["resources"]) == {"requests", "limits"}


def test_both_jobs_and_their_pods_carry_the_labels_the_watcher_selects_on(settings: Settings) -> None:
    jobs = [
        (kaniko_job(settings, ticket(), "a.py"), "build"),
        (validation_job(settings, ticket(), "i", "a.py"), "validate"),
    ]
    for job, role in jobs:
        document = rendered(job)
        expected = job_labels(role, ticket().submission_id, 1)
        assert document["metadata"]["labels"] == expected
        assert document["spec"]["template"]["metadata"]["labels"] == expected


@pytest.mark.parametrize("which", ["kaniko", "validation"])
def test_both_jobs_validate_strictly_against_the_kubernetes_schema(settings: Settings, which: str) -> None:
    if which == "kaniko":
        job = kaniko_job(settings, ticket(), "agent.py")
    else:
        job = validation_job(settings, ticket(), "registry.example.com/a:b", "a.py")
    kubernetes_validate.validate(rendered(job), "1.33.0", strict=True)


# --- the validation Job -------------------------------------------------------------------------


def test_the_validation_job_runs_the_probe_in_the_built_image_with_nothing_to_spare(settings: Settings) -> None:
    document = rendered(validation_job(settings, ticket(), "registry.example.com/x:y", "my agent.py"))
    probe = container(document)
    pod = document["spec"]["template"]["spec"]
    assert document["metadata"]["name"] == validation_job_name(ticket())
    assert probe["image"] == "registry.example.com/x:y"
    assert probe["imagePullPolicy"] == "Always"
    assert probe["args"] == ["rlarena.agent_runtime.probe", "/agent", "my agent.py"]
    assert "env" not in probe and "envFrom" not in probe
    security = probe["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == AGENT_UID
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    assert pod["imagePullSecrets"] == [{"name": "push-credentials"}]
    assert document["spec"]["backoffLimit"] == 0 and document["spec"]["activeDeadlineSeconds"] > 0


def test_the_validation_pod_keeps_every_promise_of_a_pod_that_runs_agent_code(settings: Settings) -> None:
    document = rendered(validation_job(settings, ticket(), "registry.example.com/x:y", "agent.py"))
    pod = document["spec"]["template"]["spec"]
    assert_untrusted_pod(pod, ["probe"], max_processes=256)
    assert container(document)["securityContext"]["runAsUser"] == AGENT_UID


@pytest.mark.parametrize(
    ("overrides", "runtime_class", "user_namespaces"),
    [
        ({"MATCH_RUNTIME_CLASS": "gvisor"}, "gvisor", False),
        ({"MATCH_USER_NAMESPACES": True, "MATCH_AGENT_MAX_PROCESSES": 100}, None, True),
    ],
)
def test_the_validation_pod_takes_the_runtime_class_and_user_namespaces_when_set(
    tmp_path: Path, overrides: dict[str, Any], runtime_class: str | None, user_namespaces: bool
) -> None:
    settings = make_settings(tmp_path, USE_K8S=True, S3_ENDPOINT="minio:9000", **overrides)
    document = rendered(validation_job(settings, ticket(), "registry.example.com/x:y", "agent.py"))
    kubernetes_validate.validate(document, "1.33.0", strict=True)
    assert_untrusted_pod(
        document["spec"]["template"]["spec"],
        ["probe"],
        max_processes=overrides.get("MATCH_AGENT_MAX_PROCESSES", 256),
        runtime_class=runtime_class,
        user_namespaces=user_namespaces,
    )
    # Kaniko (root in its container, no agent code) and Trivy (never runs the image) keep their Pods.
    for job in (kaniko_job(settings, ticket(), "agent.py"), scan_job(settings, ticket(), "registry.example.com/x:y")):
        pod = rendered(job)["spec"]["template"]["spec"]
        assert "runtimeClassName" not in pod and "hostUsers" not in pod


def test_the_validation_pods_own_command_loads_the_agent_with_its_limits(settings: Settings, tmp_path: Path) -> None:
    # The Pod's command and arguments (not the image's), with the image's folders mapped to temporary ones.
    for path, content in {**runtime_files(), "agent/agent.py": AGENT}.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    probe = container(rendered(validation_job(settings, ticket(), "registry.example.com/x:y", "agent.py")))
    python, *options, code = probe["command"]
    assert python == "python" and "RLIMIT_NPROC" in code
    module, folder, entry_point = probe["args"]
    argv = [sys.executable, *options, code.replace(RUNTIME_ROOT, str(tmp_path)), module]
    argv += [folder.replace("/agent", str(tmp_path / "agent")), entry_point]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = probe_report(result.stdout)
    assert report is not None and report["ok"] is True and report["interface"] == "function"


def test_the_kaniko_builder_needs_s3(tmp_path: Path) -> None:
    from rlarena.adapters.builders.kaniko import KanikoBuilder

    settings = make_settings(tmp_path, USE_K8S=True)
    with pytest.raises(ConfigurationError, match="S3_ENDPOINT"):
        KanikoBuilder(bootstrap(settings).store, settings)


def test_uploads_the_image_build_cannot_take_fail_before_reaching_the_cluster(
    settings: Settings, tmp_path: Path
) -> None:
    from rlarena.adapters.builders.kaniko import KanikoBuilder
    from rlarena.adapters.storage.local import LocalFolderStore

    def no_cluster() -> ApiClient:
        raise AssertionError("the cluster was contacted")

    store = LocalFolderStore(tmp_path / "objects", "agents")
    builder = KanikoBuilder(store, settings, no_cluster)
    long_path = "d" * 120 + "/" + "f" * 126 + ".py"  # allowed in an upload, too long under agent/
    uploads = {
        "index.zip": _zipped({"agent.py": AGENT, "requirements.txt": b"--index-url http://x/simple\nnumpy\n"}),
        "long.zip": _zipped({"agent.py": AGENT, long_path: b"X = 1\n"}),
        "broken.py": b"def agent(:\n",
    }
    for name, data in uploads.items():
        store.put(f"submissions/{name}", data)
        attempt = BuildTicket(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "pong", 1, 1, f"submissions/{name}", name)
        progress = RecordedProgress()
        outcome = builder.build(attempt, progress)
        assert outcome is not None and not outcome.ok, name
        assert progress.jobs == [], name  # refused before any Job was made
        assert outcome.error and outcome.error in outcome.log, name
    assert [o.key for o in store.list("builds/")] == []


def test_use_k8s_selects_the_kaniko_builder_without_touching_the_cluster(settings: Settings) -> None:
    from rlarena.adapters.builders.kaniko import KanikoBuilder

    platform = bootstrap(settings, publisher=RecordingPublisher())
    builder = platform.builder
    assert isinstance(builder, KanikoBuilder)
    assert builder._client is None  # the API client is made on first use, not at start-up


# --- the Dockerfile and the context --------------------------------------------------------------


def test_the_dockerfile_without_requirements_runs_nothing_at_build_time() -> None:
    text = dockerfile("python:3.11-slim", "agent.py", has_requirements=False)
    lines = text.splitlines()
    assert "FROM python:3.11-slim" in lines
    assert not [line for line in lines if line.startswith("RUN")]
    assert f"USER {AGENT_UID}:{AGENT_UID}" in lines
    assert "WORKDIR /agent" in lines
    assert f"PYTHONPATH={RUNTIME_ROOT}" in text
    assert lines.index("COPY rlarena/ /opt/rlarena/runtime/rlarena/") < lines.index("USER 10001:10001")
    cmd = json.loads(next(line for line in lines if line.startswith("CMD "))[4:])
    assert cmd == ["rlarena.agent_runtime.probe", "/agent", "agent.py"]
    entrypoint = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT "))[11:])
    assert entrypoint[:3] == ["python", "-I", "-c"]


def test_the_dockerfile_installs_requirements_first_as_wheels_without_a_cache() -> None:
    lines = dockerfile("python:3.11-slim", "agent.py", has_requirements=True).splitlines()
    (run,) = [line for line in lines if line.startswith("RUN")]
    assert "pip install --no-cache-dir --only-binary=:all:" in run
    assert "-r /tmp/rlarena-requirements.txt" in run
    assert REQUIREMENTS_FAILED_MARKER in run
    copy_requirements = lines.index("COPY agent/requirements.txt /tmp/rlarena-requirements.txt")
    assert copy_requirements < lines.index(run) < lines.index("COPY agent/ /agent/")


def test_an_odd_entry_point_name_stays_one_argument_of_the_command() -> None:
    name = 'weird "name"\nRUN evil.py'
    lines = dockerfile("python:3.11-slim", name, has_requirements=False).splitlines()
    assert not [line for line in lines if line.startswith("RUN")]
    cmd = json.loads(next(line for line in lines if line.startswith("CMD "))[4:])
    assert cmd[-1] == name


def test_the_context_holds_the_dockerfile_the_runtime_and_the_agent_and_is_reproducible() -> None:
    source = read_upload("bot.py", AGENT, ArchiveLimits())
    data = build_context(source, "python:3.11-slim")
    assert data == build_context(source, "python:3.11-slim")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as archive:
        names = set(archive.getnames())
        dockerfile_text = (archive.extractfile("Dockerfile") or io.BytesIO()).read().decode()
    runtime = {f"rlarena/agent_runtime/{p.name}" for p in (ROOT / "shared/src/rlarena/agent_runtime").glob("*.py")}
    assert names == {"Dockerfile", "rlarena/__init__.py", "agent/bot.py", *runtime}
    assert "rlarena/agent_runtime/probe.py" in names
    assert '"/agent", "bot.py"]' in dockerfile_text


def test_the_image_command_line_loads_the_agent_through_the_runtime(tmp_path: Path) -> None:
    # What the container runs, with the image's folders mapped to temporary ones.
    source = read_upload("bot.zip", _zipped({"agent.py": AGENT, "helper.py": b"X = 1\n"}), ArchiveLimits())
    files = context_files(source, "python:3.11-slim")
    for path, content in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    lines = files["Dockerfile"].decode().splitlines()
    entrypoint = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT "))[11:])
    cmd = json.loads(next(line for line in lines if line.startswith("CMD "))[4:])
    code = entrypoint[3].replace(RUNTIME_ROOT, str(tmp_path))
    argv = [sys.executable, "-I", "-c", code, cmd[0], str(tmp_path / "agent"), cmd[2]]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = probe_report(result.stdout)
    assert report is not None and report["ok"] is True and report["interface"] == "function"


def test_requirements_may_only_name_packages_from_the_index() -> None:
    assert requirement_problems(["numpy==2.0", "gymnasium>=1.0; python_version>'3.8'", "torch --hash=sha256:ab"]) == []
    problems = requirement_problems(
        [
            "--index-url http://evil",
            "-r other.txt",
            "-e git+https://x/y",
            "pkg @ https://x/p.whl",
            "a --pre",
            "b@file:x",
        ]
    )
    assert len(problems) == 6


def _zipped(files: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --- reading Job status -------------------------------------------------------------------------


def _job(conditions: list[dict[str, str]], uid: str = "u1") -> dict[str, Any]:
    return {"metadata": {"name": "build-x", "uid": uid}, "status": {"conditions": conditions}}


def test_a_job_is_finished_only_by_its_complete_or_failed_condition() -> None:
    assert kubernetes_status.job_state(_job([])) is kubernetes_status.JobState.RUNNING
    assert (
        kubernetes_status.job_state(_job([{"type": "SuccessCriteriaMet", "status": "True"}]))
        is kubernetes_status.JobState.RUNNING
    )
    assert (
        kubernetes_status.job_state(_job([{"type": "FailureTarget", "status": "True"}]))
        is kubernetes_status.JobState.RUNNING
    )
    assert (
        kubernetes_status.job_state(_job([{"type": "Complete", "status": "True"}]))
        is kubernetes_status.JobState.SUCCEEDED
    )
    failed = _job([{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "too slow"}])
    assert kubernetes_status.job_state(failed) is kubernetes_status.JobState.FAILED
    assert kubernetes_status.failure_of(failed) == ("DeadlineExceeded", "too slow")
    assert kubernetes_status.job_state({"status": None}) is kubernetes_status.JobState.RUNNING


def test_the_pod_of_a_job_is_its_newest_and_never_one_of_a_deleted_namesake() -> None:
    def pod(name: str, created: str, owner: str) -> dict[str, Any]:
        metadata = {"name": name, "creationTimestamp": created, "labels": {"job-name": "build-x"}}
        return {"metadata": {**metadata, "ownerReferences": [{"uid": owner}]}}

    old = pod("a", "2026-01-01T00:00:00Z", "u1")
    new = pod("b", "2026-01-01T00:05:00Z", "u1")
    stale = pod("c", "2026-01-02T00:00:00Z", "u0")  # newer, but owned by a deleted Job of the same name
    other = {"metadata": {"name": "d", "labels": {"job-name": "other"}}}
    assert kubernetes_status.pod_of_job([old, stale, new, other], _job([])) is new
    assert kubernetes_status.pod_of_job([other], _job([])) is None


def test_how_a_container_ended_is_read_from_the_pod() -> None:
    def pod(state: dict[str, Any]) -> dict[str, Any]:
        return {"status": {"containerStatuses": [{"state": state}]}}

    oom = kubernetes_status.container_end(pod({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}))
    assert (oom.started, oom.exit_code, oom.reason) == (True, 137, "OOMKilled")
    pulling = kubernetes_status.container_end(pod({"waiting": {"reason": "ImagePullBackOff", "message": "nope"}}))
    assert kubernetes_status.never_ran(pulling) and pulling.message == "nope"
    assert kubernetes_status.never_ran(kubernetes_status.container_end(None))
    assert kubernetes_status.never_ran(kubernetes_status.container_end({"status": {"phase": "Pending"}}))


def test_the_probe_report_is_the_last_json_object_line() -> None:
    output = 'agent says hi\n{"ok": false}\nnoise\n{"ok": true, "interface": "function"}\n'
    assert probe_report(output) == {"ok": True, "interface": "function"}
    assert probe_report("no json here\n[1, 2]\n") is None


# --- cold start ---------------------------------------------------------------------------------


def test_the_job_event_path_imports_no_kubernetes_client_until_it_builds() -> None:
    script = (
        "import sys\n"
        "import rlarena.entrypoints.submissions, rlarena.service.build_jobs, rlarena.service.builds\n"
        "import rlarena.adapters.builders.kaniko_context, rlarena.adapters.kubernetes_status\n"
        "import rlarena.adapters.kubernetes_pods\n"
        "print('kubernetes' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.strip() == "False"
