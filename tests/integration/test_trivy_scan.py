"""The Trivy scan beside the validation, against kmock and SeaweedFS, on SQLite and PostgreSQL.

The test plays the Job controller as in test_kaniko_builder.py. The scan Pod's log endpoint honours
`tailLines` and `limitBytes` as the API server does, so a report longer than a log tail shows that
the builder reads the whole report.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import kubernetes_validate
import pytest

from rlarena.adapters.builders.kaniko import KanikoBuilder
from rlarena.bootstrap import Platform
from rlarena.service import build_jobs, build_queue, builds
from tests.support.api import ApiClient, User
from tests.support.cluster import PODS, REGISTRY, Cluster, kubernetes_overrides
from tests.support.kaniko import AGENT, REPORT_OK, later, names, published, row, submit
from tests.support.kaniko import BUILDS_NAMESPACE as NAMESPACE
from tests.support.seaweedfs import S3Server


@pytest.fixture
def settings_overrides(s3_server: S3Server) -> dict[str, object]:
    return kubernetes_overrides(
        s3_server, NAMESPACE, "trivy", BUILD_CONCURRENCY=4, TRIVY_ENABLED=True, TRIVY_VERSION="0.70.0"
    )


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register("scanned")


@pytest.fixture
def agent_id(api: ApiClient, owner: User) -> str:
    return str(api.create_agent(owner, "scanned", "pong")["id"])


def scan_name(submission_id: uuid.UUID, version: int = 1, attempt: int = 1) -> str:
    return f"scan-{submission_id.hex}-v{version}-a{attempt}"


def finding(severity: str, package: str, fixed: str = "", cve: str = "CVE-2024-0001") -> dict[str, Any]:
    return {
        "VulnerabilityID": cve,
        "PkgName": package,
        "InstalledVersion": "1.0.0",
        "FixedVersion": fixed,
        "Severity": severity,
        "Description": "what goes wrong\nover several lines",
    }


def trivy_log(python: list[dict[str, Any]], system: list[dict[str, Any]] | None = None) -> str:
    """What the scan Pod prints: Trivy's log lines, then the indented JSON report."""
    results = [
        {"Target": "image (debian 12.5)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": system or []},
        {"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg", "Vulnerabilities": python},
    ]
    document = {"SchemaVersion": 2, "ArtifactType": "container_image", "Results": results}
    return "2026-05-01T10:00:00Z\tINFO\tDownloading vulnerability DB...\n" + json.dumps(document, indent=2) + "\n"


def finish_scan(cluster: Cluster, name: str, *, ok: bool = True, log: str = "") -> dict[str, Any]:
    """The scan Pod ends (its log served as the API server would) and the Job controller marks the Job."""
    pod_name = f"{name[:50]}-{uuid.uuid4().hex[:5]}"
    cluster.emulator.objects[PODS, NAMESPACE, pod_name] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": NAMESPACE,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"job-name": name, "batch.kubernetes.io/job-name": name},
        },
        "status": {"containerStatuses": [{"name": "trivy", "state": {"terminated": {"exitCode": 0 if ok else 1}}}]},
    }

    def serve_log(request: Any) -> bytes:
        text = log
        if "tailLines" in request.params:
            text = "".join(text.splitlines(keepends=True)[-int(request.params["tailLines"]) :])
        data = text.encode()
        return data[: int(request.params["limitBytes"])] if "limitBytes" in request.params else data

    cluster.emulator["get", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod_name}/log"] << serve_log
    if ok:
        return cluster.set_job_state(name, "Complete")
    return cluster.set_job_state(name, "Failed", reason="BackoffLimitExceeded", message="Job has reached the limit")


def built(
    platform: Platform, cluster: Cluster, owner: User, agent_id: str, files: dict[str, bytes] | None = None
) -> uuid.UUID:
    """Upload, start the build, and let Kaniko push the image: validation and scan are now running."""
    submission_id = submit(platform, owner, agent_id, files)
    build_queue.run_queue(platform)
    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[0], ok=True, log="INFO pushed\n"))
    return submission_id


def test_a_built_image_is_validated_and_scanned_and_build_status_shows_the_counts(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str, api: ApiClient
) -> None:
    submission_id = built(platform, cluster, owner, agent_id)
    build_name, validate_name = names(submission_id)
    jobs = cluster.jobs()
    assert set(jobs) == {build_name, validate_name, scan_name(submission_id)}
    image = f"{REGISTRY}/{agent_id}:{submission_id}-v1"
    (trivy,) = jobs[scan_name(submission_id)]["spec"]["template"]["spec"]["containers"]
    assert (trivy["image"], trivy["args"][-1]) == ("ghcr.io/aquasecurity/trivy:0.70.0", image)
    assert jobs[validate_name]["metadata"]["annotations"] == {"rlarena.dev/scan-job": scan_name(submission_id)}
    assert row(platform, submission_id).status == "validating"

    build_queue.handle_job_event(platform, cluster.finish_job(validate_name, ok=True, log=REPORT_OK))
    assert row(platform, submission_id).status == "validating"  # the scan is still running
    assert published(platform, "build.succeeded") == []

    # Longer than any log tail: only reading the whole log gets every finding.
    lows = [finding("LOW", f"lib{number}", cve=f"CVE-2024-{number}") for number in range(400)]
    log = trivy_log([finding("HIGH", "requests", "2.32.0"), finding("MEDIUM", "idna", "3.7")], lows)
    assert log.count("\n") > 2000
    build_queue.handle_job_event(platform, finish_scan(cluster, scan_name(submission_id), log=log))

    done = row(platform, submission_id)
    counts = {"critical": 0, "high": 1, "medium": 1, "low": 400, "unknown": 0}
    assert (done.status, done.vulnerabilities) == ("active", counts)
    assert done.build_log is not None and "image scan (Trivy): CRITICAL 0, HIGH 1, MEDIUM 1, LOW 400" in done.build_log
    status = api.get(f"/api/v1/submissions/{submission_id}/build-status", headers=owner.headers).json
    assert status["vulnerabilities"] == counts
    assert status["buildPodName"] is not None and status["buildPodName"].startswith(build_name[:50])
    assert "scanning it with Job " + scan_name(submission_id) in [t["message"] for t in status["history"]][2]
    assert len(published(platform, "build.succeeded")) == 1


def test_the_scan_may_end_before_the_validation(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = built(platform, cluster, owner, agent_id)
    report = trivy_log([finding("CRITICAL", "pyyaml", "5.4")])

    build_queue.handle_job_event(platform, finish_scan(cluster, scan_name(submission_id), log=report))
    assert row(platform, submission_id).status == "validating"  # the validation decides first
    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[1], ok=True, log=REPORT_OK))

    done = row(platform, submission_id)
    # Without TRIVY_FAIL_ON_CRITICAL the counts are shown, and the build stands.
    assert (done.status, done.vulnerabilities) == (
        "active",
        {"critical": 1, "high": 0, "medium": 0, "low": 0, "unknown": 0},
    )
    assert done.build_log is not None and "CRITICAL: pyyaml 1.0.0 (CVE-2024-0001, fixed in 5.4)" in done.build_log


def test_critical_findings_fail_the_build_saying_what_to_upgrade(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    platform.settings.trivy_fail_on_critical = True
    submission_id = built(platform, cluster, owner, agent_id, {"agent.py": AGENT, "requirements.txt": b"pyyaml==5.3\n"})
    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[1], ok=True, log=REPORT_OK))

    report = trivy_log([finding("CRITICAL", "pyyaml", "5.4", "CVE-2020-14343"), finding("HIGH", "requests", "2.32")])
    build_queue.handle_job_event(platform, finish_scan(cluster, scan_name(submission_id), log=report))

    failed = row(platform, submission_id)
    assert failed.status == "failed"
    assert failed.error_message is not None
    assert "1 CRITICAL vulnerability" in failed.error_message
    assert "pyyaml 1.0.0 (CVE-2020-14343, fixed in 5.4)" in failed.error_message
    assert "requirements.txt" in failed.error_message
    assert failed.vulnerabilities == {"critical": 1, "high": 1, "medium": 0, "low": 0, "unknown": 0}
    assert (failed.infra_failures, failed.is_active) == (0, False)
    (event,) = published(platform, "build.failed")
    assert event["errorMessage"] == failed.error_message


def test_a_scan_without_critical_findings_passes_the_fail_setting(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    platform.settings.trivy_fail_on_critical = True
    submission_id = built(platform, cluster, owner, agent_id)
    build_queue.handle_job_event(platform, finish_scan(cluster, scan_name(submission_id), log=trivy_log([])))
    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[1], ok=True, log=REPORT_OK))

    done = row(platform, submission_id)
    assert (done.status, done.vulnerabilities) == (
        "active",
        dict.fromkeys(["critical", "high", "medium", "low", "unknown"], 0),
    )


def test_a_failed_scan_is_noted_when_findings_are_only_shown(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = built(platform, cluster, owner, agent_id)
    log = "2026-05-01T10:00:00Z\tFATAL\tinit error: DB error: failed to download vulnerability DB\n"
    build_queue.handle_job_event(platform, finish_scan(cluster, scan_name(submission_id), ok=False, log=log))
    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[1], ok=True, log=REPORT_OK))

    done = row(platform, submission_id)
    assert (done.status, done.vulnerabilities, done.infra_failures) == ("active", None, 0)
    assert done.build_log is not None
    assert "image scan (Trivy): failed" in done.build_log and "failed to download vulnerability DB" in done.build_log


def test_a_failed_scan_requeues_the_attempt_when_criticals_must_be_refused(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    platform.settings.trivy_fail_on_critical = True
    submission_id = built(platform, cluster, owner, agent_id)
    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[1], ok=True, log=REPORT_OK))

    build_queue.handle_job_event(platform, finish_scan(cluster, scan_name(submission_id), ok=False, log="FATAL\n"))

    # Not the user's fault: the attempt's Jobs are deleted and it starts again after a backoff.
    assert row(platform, submission_id).status == "pending"
    platform.clock = later(platform, builds.infrastructure_backoff(1))
    build_queue.run_queue(platform)
    retried = row(platform, submission_id)
    assert (retried.status, retried.infra_failures, retried.error_message) == ("building", 1, None)
    assert list(cluster.jobs()) == [names(submission_id)[0]]
    assert published(platform, "build.failed") == []


def test_a_failed_validation_does_not_wait_for_the_scan(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = built(platform, cluster, owner, agent_id)
    report = json.dumps({"ok": False, "error": "no agent function", "traceback": ""})

    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[1], ok=False, log=report))

    failed = row(platform, submission_id)
    assert (failed.status, failed.error_message, failed.vulnerabilities) == ("failed", "no agent function", None)
    late = finish_scan(cluster, scan_name(submission_id), log=trivy_log([finding("HIGH", "x")]))
    build_queue.handle_job_event(platform, late)  # the attempt is over: the late scan changes nothing
    assert row(platform, submission_id).vulnerabilities is None


def test_redelivered_and_duplicate_events_start_and_record_nothing_twice(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = built(platform, cluster, owner, agent_id)
    build_name, validate_name = names(submission_id)
    build_queue.handle_job_event(platform, cluster.job(build_name))  # the build's end, again: 409s only
    assert set(cluster.jobs()) == {build_name, validate_name, scan_name(submission_id)}

    validated = cluster.finish_job(validate_name, ok=True, log=REPORT_OK)
    scanned = finish_scan(cluster, scan_name(submission_id), log=trivy_log([finding("LOW", "x")]))
    for event in (validated, scanned, scanned, validated):
        build_queue.handle_job_event(platform, event)

    assert row(platform, submission_id).status == "active"
    assert len(published(platform, "build.succeeded")) == 1


def test_the_reconciler_concludes_a_scan_whose_events_were_missed(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = built(platform, cluster, owner, agent_id)
    cluster.finish_job(names(submission_id)[1], ok=True, log=REPORT_OK)  # no events delivered
    finish_scan(cluster, scan_name(submission_id), log=trivy_log([finding("MEDIUM", "x")]))

    assert build_jobs.reconcile_jobs(platform) == 1

    done = row(platform, submission_id)
    assert (done.status, done.vulnerabilities["medium"] if done.vulnerabilities else None) == ("active", 1)


def test_the_scan_job_as_created_validates_strictly_against_the_kubernetes_schema(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = built(platform, cluster, owner, agent_id)
    job = cluster.jobs()[scan_name(submission_id)]
    pod = job["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["containers"][0]["securityContext"]["runAsNonRoot"] is True
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    kubernetes_validate.validate(job, "1.33.0", strict=True)


def test_without_trivy_enabled_no_scan_is_started_or_awaited(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    platform.settings.trivy_enabled = False
    submission_id = built(platform, cluster, owner, agent_id)
    assert scan_name(submission_id) not in cluster.jobs()

    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[1], ok=True, log=REPORT_OK))

    done = row(platform, submission_id)
    assert (done.status, done.vulnerabilities) == ("active", None)
