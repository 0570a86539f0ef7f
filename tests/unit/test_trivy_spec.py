"""The image scan's pure parts: the Trivy Job, its settings, and reading Trivy's JSON report."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from kubernetes.client import ApiClient
from pydantic import ValidationError

from rlarena.adapters.builders.base import BuildTicket
from rlarena.adapters.builders.kaniko_context import job_key, our_jobs_selector
from rlarena.adapters.builders.kaniko_jobs import (
    SCAN_DEADLINE_SECONDS,
    kaniko_deadline_seconds,
    scan_job,
    scan_job_name,
    trivy_image,
    validation_job,
)
from rlarena.adapters.builders.scan_report import critical_message, parse_report
from rlarena.config import Settings
from tests.conftest import make_settings

IMAGE = "registry.example.com/rlarena/fedcba98-7654-3210-fedc-ba9876543210:0123abcd-4567-89ab-cdef-0123456789ab-v3"
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        USE_K8S=True,
        S3_ENDPOINT="minio.rlarena.svc:9000",
        K8S_NAMESPACE="builds",
        CONTAINER_REGISTRY_URL="registry.example.com/rlarena",
        CONTAINER_REGISTRY_SECRET="push-credentials",
        TRIVY_ENABLED=True,
        BUILD_TIMEOUT="15m",
    )


def ticket(attempt: int = 1) -> BuildTicket:
    return BuildTicket(
        submission_id=uuid.UUID("0123abcd-4567-89ab-cdef-0123456789ab"),
        agent_id=uuid.UUID("fedcba98-7654-3210-fedc-ba9876543210"),
        user_id=uuid.uuid4(),
        environment_id="pong",
        version=3,
        attempt=attempt,
        source_key="submissions/a/b/source.zip",
        source_filename="bot.zip",
    )


def rendered(job: Any) -> dict[str, Any]:
    document: dict[str, Any] = ApiClient().sanitize_for_serialization(job)  # type: ignore[no-untyped-call]
    return document


def vulnerability(
    severity: str, package: str = "urllib3", fixed: str = "2.2.2", cve: str = "CVE-2024-1"
) -> dict[str, Any]:
    return {
        "VulnerabilityID": cve,
        "PkgName": package,
        "InstalledVersion": "1.26.0",
        "FixedVersion": fixed,
        "Severity": severity,
        "Title": "something bad",
        "Description": "a long text { with braces }",
    }


def report(*results: dict[str, Any]) -> str:
    """Trivy's JSON output (indented, as it prints it) after its own log lines."""
    document = {"SchemaVersion": 2, "ArtifactName": IMAGE, "ArtifactType": "container_image", "Results": list(results)}
    return (
        '2026-05-01T10:00:00Z\tINFO\tDownloading vulnerability DB... {"size": 70}\n'
        '2026-05-01T10:00:09Z\tINFO\tDetected OS\tfamily="debian"\n' + json.dumps(document, indent=2) + "\n"
    )


def os_packages(*vulnerabilities: dict[str, Any]) -> dict[str, Any]:
    return {
        "Target": f"{IMAGE} (debian 12.5)",
        "Class": "os-pkgs",
        "Type": "debian",
        "Vulnerabilities": list(vulnerabilities),
    }


def python_packages(*vulnerabilities: dict[str, Any]) -> dict[str, Any]:
    return {"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg", "Vulnerabilities": list(vulnerabilities)}


# --- the scan Job ---------------------------------------------------------------------------------


def test_the_scan_job_validates_strictly_against_the_kubernetes_schema(settings: Settings) -> None:
    kubernetes_validate.validate(rendered(scan_job(settings, ticket(), IMAGE)), "1.33.0", strict=True)


def test_the_scan_job_scans_the_pushed_image_and_prints_json_whatever_it_finds(settings: Settings) -> None:
    document = rendered(scan_job(settings, ticket(), IMAGE))
    (trivy,) = document["spec"]["template"]["spec"]["containers"]
    assert trivy["image"] == "ghcr.io/aquasecurity/trivy:0.70.0"
    assert trivy["args"][0] == "image" and trivy["args"][-1] == IMAGE
    assert {"--format=json", "--scanners=vuln", "--image-src=remote", "--exit-code=0"} <= set(trivy["args"])
    assert f"--timeout={SCAN_DEADLINE_SECONDS - 20}s" in trivy["args"]
    assert document["metadata"]["name"] == scan_job_name(ticket()) == "scan-0123abcd456789abcdef0123456789ab-v3-a1"
    assert document["metadata"]["annotations"] == {"rlarena.dev/image": IMAGE}


def test_the_scan_job_runs_once_non_root_with_nothing_to_spare(settings: Settings) -> None:
    document = rendered(scan_job(settings, ticket(), IMAGE))
    spec, pod = document["spec"], document["spec"]["template"]["spec"]
    (trivy,) = pod["containers"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (
        0,
        SCAN_DEADLINE_SECONDS,
        3600,
    )
    assert (pod["restartPolicy"], pod["automountServiceAccountToken"], pod["enableServiceLinks"]) == (
        "Never",
        False,
        False,
    )
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = trivy["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(trivy["resources"]["limits"]) == {"cpu", "memory", "ephemeral-storage"}
    assert set(trivy["resources"]["requests"]) == {"cpu", "memory", "ephemeral-storage"}
    mounts = {mount["mountPath"]: mount for mount in trivy["volumeMounts"]}
    credentials = next(volume for volume in pod["volumes"] if volume["name"] == "registry-credentials")
    assert credentials["secret"]["secretName"] == "push-credentials"
    assert mounts["/scanner/.docker"]["readOnly"] is True
    env = {item["name"]: item["value"] for item in trivy["env"]}
    assert env["DOCKER_CONFIG"] == "/scanner/.docker"


def test_the_scan_fits_the_build_timeout_beside_the_validation(settings: Settings) -> None:
    enabled = kaniko_deadline_seconds(settings)
    disabled = kaniko_deadline_seconds(settings.model_copy(update={"trivy_enabled": False}))
    assert enabled == disabled == 15 * 60 - SCAN_DEADLINE_SECONDS


def test_scan_jobs_carry_the_labels_the_watcher_and_the_network_policy_select_on(settings: Settings) -> None:
    document = rendered(scan_job(settings, ticket(attempt=2), IMAGE))
    labels = document["metadata"]["labels"]
    assert labels == document["spec"]["template"]["metadata"]["labels"]
    assert labels["rlarena.dev/role"] == "scan"
    key = job_key(labels)
    assert key is not None and (key.role, key.attempt) == ("scan", 2)
    assert our_jobs_selector().endswith("in (build,validate,scan)")


def test_the_validation_job_names_the_scan_it_waits_for(settings: Settings) -> None:
    with_scan = rendered(validation_job(settings, ticket(), IMAGE, "agent.py", scan_job="scan-x"))
    without = rendered(validation_job(settings, ticket(), IMAGE, "agent.py"))
    assert with_scan["metadata"]["annotations"] == {"rlarena.dev/scan-job": "scan-x"}
    assert without["metadata"].get("annotations") is None


@pytest.mark.parametrize(
    ("version", "image"),
    [
        ("0.70.0", "ghcr.io/aquasecurity/trivy:0.70.0"),
        (f"0.70.0@{DIGEST}", f"ghcr.io/aquasecurity/trivy:0.70.0@{DIGEST}"),
        (DIGEST, f"ghcr.io/aquasecurity/trivy@{DIGEST}"),
    ],
)
def test_the_trivy_version_is_a_tag_or_a_pinned_digest(tmp_path: Path, version: str, image: str) -> None:
    assert trivy_image(make_settings(tmp_path, TRIVY_VERSION=version)) == image


def test_a_registry_port_is_part_of_the_trivy_image(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, TRIVY_IMAGE="mirror.local:5000/security/trivy", TRIVY_VERSION="0.70.0")
    assert trivy_image(settings) == "mirror.local:5000/security/trivy:0.70.0"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRIVY_IMAGE", "aquasec/trivy:0.70.0"),  # the tag belongs in TRIVY_VERSION
        ("TRIVY_IMAGE", "ghcr.io/aquasecurity/trivy --debug"),
        ("TRIVY_VERSION", "latest --quiet"),
        ("TRIVY_VERSION", "sha256:short"),
    ],
)
def test_a_malformed_trivy_setting_is_refused_at_start_up(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name):
        make_settings(tmp_path, **{name: value})


# --- the report ---------------------------------------------------------------------------------------


def test_the_report_is_counted_per_severity_after_trivys_log_lines() -> None:
    text = report(
        os_packages(vulnerability("LOW", "libc6"), vulnerability("LOW", "libc6", cve="CVE-2"), vulnerability("HIGH")),
        python_packages(vulnerability("MEDIUM"), vulnerability("CRITICAL", "pyyaml", "5.4")),
        {"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg"},  # clean: no Vulnerabilities key
    )
    parsed = parse_report(text)
    assert parsed is not None
    assert parsed.as_json() == {"critical": 1, "high": 1, "medium": 1, "low": 2, "unknown": 0}
    assert parsed.summary() == "CRITICAL 1, HIGH 1, MEDIUM 1, LOW 2, UNKNOWN 0"
    (critical,) = parsed.critical
    assert (critical.package, critical.fixed, critical.from_base_image) == ("pyyaml", "5.4", False)


def test_a_clean_image_counts_zero_everywhere() -> None:
    parsed = parse_report(report())
    assert parsed is not None and parsed.as_json() == dict.fromkeys(["critical", "high", "medium", "low", "unknown"], 0)


def test_severities_trivy_does_not_name_count_as_unknown() -> None:
    parsed = parse_report(report(python_packages(vulnerability("NEGLIGIBLE"), vulnerability(""))))
    assert parsed is not None and parsed.counts["UNKNOWN"] == 2


@pytest.mark.parametrize(
    "log",
    [
        "",
        "2026-05-01T10:00:00Z\tFATAL\tunable to initialize the scanner: ... 401 Unauthorized\n",
        report(python_packages(vulnerability("HIGH")))[:-200],  # cut off: never half a count
        '{"level": "info", "msg": "not a report"}\n',
    ],
)
def test_a_log_without_a_whole_report_gives_none(log: str) -> None:
    assert parse_report(log) is None


def test_the_critical_message_says_what_the_user_can_fix_and_what_the_operators_must() -> None:
    parsed = parse_report(
        report(
            python_packages(vulnerability("CRITICAL", "pyyaml", "5.4", "CVE-2020-14343")),
            os_packages(vulnerability("CRITICAL", "openssl", "", "CVE-2099-1")),
        )
    )
    assert parsed is not None
    message = critical_message(parsed)
    assert message.startswith("the image has 2 CRITICAL vulnerabilities")
    assert "pyyaml 1.26.0 (CVE-2020-14343, fixed in 5.4)" in message
    assert "requirements.txt" in message
    assert "openssl 1.26.0 (CVE-2099-1, no fixed version yet)" in message
    assert "AGENT_BASE_IMAGE" in message


def test_only_the_users_packages_are_blamed_when_the_base_image_is_clean() -> None:
    many = [vulnerability("CRITICAL", f"pkg{number}", "9", f"CVE-{number}") for number in range(13)]
    parsed = parse_report(report(python_packages(*many)))
    assert parsed is not None
    message = critical_message(parsed)
    assert "AGENT_BASE_IMAGE" not in message
    assert "pkg9 " in message and "pkg10 " not in message
    assert "and 3 more" in message
