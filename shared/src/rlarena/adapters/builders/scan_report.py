"""Trivy's JSON report, read back from the scan Pod's log: counts per severity and what to fix. Stdlib only.

The log holds Trivy's own log lines (stderr) and the report (stdout, indented JSON, written last).
The report is found as the first top-level JSON object in the log that looks like one (it has
`SchemaVersion` or `Results`), so log lines before or after it do not matter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
CRITICAL = "CRITICAL"
_OS_PACKAGES = "os-pkgs"  # Trivy's result class for the distribution's packages (the base image)
_SHOWN_FINDINGS = 10


@dataclass(frozen=True)
class Finding:
    vulnerability: str  # CVE-2024-1234, GHSA-...
    package: str
    installed: str
    fixed: str  # "" when no fixed version exists yet
    from_base_image: bool

    def describe(self) -> str:
        fix = f"fixed in {self.fixed}" if self.fixed else "no fixed version yet"
        return f"{self.package} {self.installed} ({self.vulnerability}, {fix})"


@dataclass(frozen=True)
class ScanReport:
    counts: dict[str, int]  # every severity in SEVERITIES, zeros included
    critical: tuple[Finding, ...]

    def as_json(self) -> dict[str, int]:
        """What Submission.vulnerabilities holds and build-status shows: {"critical": 0, "high": 2, ...}."""
        return {severity.lower(): self.counts[severity] for severity in SEVERITIES}

    def summary(self) -> str:
        return ", ".join(f"{severity} {self.counts[severity]}" for severity in SEVERITIES)


def parse_report(log: str) -> ScanReport | None:
    """The report in a scan Pod's log, or None when there is none (the scan failed or the log was cut)."""
    document = _find_report(log)
    if document is None:
        return None
    counts = dict.fromkeys(SEVERITIES, 0)
    critical: list[Finding] = []
    for result in map(_mapping, _list(document.get("Results"))):
        from_base_image = result.get("Class") == _OS_PACKAGES
        for vulnerability in map(_mapping, _list(result.get("Vulnerabilities"))):
            severity = str(vulnerability.get("Severity") or "UNKNOWN").upper()
            severity = severity if severity in counts else "UNKNOWN"
            counts[severity] += 1
            if severity == CRITICAL:
                critical.append(_finding(vulnerability, from_base_image=from_base_image))
    return ScanReport(counts=counts, critical=tuple(critical))


def _finding(vulnerability: Mapping[str, Any], *, from_base_image: bool) -> Finding:
    return Finding(
        vulnerability=str(vulnerability.get("VulnerabilityID") or "unnamed"),
        package=str(vulnerability.get("PkgName") or "an unnamed package"),
        installed=str(vulnerability.get("InstalledVersion") or ""),
        fixed=str(vulnerability.get("FixedVersion") or ""),
        from_base_image=from_base_image,
    )


def critical_message(report: ScanReport) -> str:
    """Why a build with CRITICAL findings failed, and what to change: the user's packages or the base image."""
    yours = [finding for finding in report.critical if not finding.from_base_image]
    base = [finding for finding in report.critical if finding.from_base_image]
    parts = [
        f"the image has {report.counts[CRITICAL]} CRITICAL vulnerabilit{'y' if report.counts[CRITICAL] == 1 else 'ies'}"
        " and this platform refuses those (TRIVY_FAIL_ON_CRITICAL)"
    ]
    if yours:
        parts.append(
            "in the Python packages of requirements.txt: "
            + _listed(yours)
            + "; require a fixed version (e.g. `package>=fixed`) or drop the package"
        )
    if base:
        parts.append(
            "in the base image, not in your code: "
            + _listed(base)
            + "; the platform's operators must update AGENT_BASE_IMAGE, then rebuild"
        )
    return ". ".join(parts)


def _listed(findings: list[Finding]) -> str:
    shown = "; ".join(finding.describe() for finding in findings[:_SHOWN_FINDINGS])
    more = len(findings) - _SHOWN_FINDINGS
    return shown + (f"; and {more} more (see the build log)" if more > 0 else "")


def _find_report(log: str) -> Mapping[str, Any] | None:
    decoder = json.JSONDecoder()
    position = 0
    while (start := log.find("{", position)) >= 0:
        # Only an object that starts a line: a brace inside a log message is not the report.
        if start == 0 or log[start - 1] == "\n":
            try:
                document, _ = decoder.raw_decode(log, start)
            except ValueError:
                document = None
            if isinstance(document, dict) and ("SchemaVersion" in document or "Results" in document):
                return document
        position = start + 1
    return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
