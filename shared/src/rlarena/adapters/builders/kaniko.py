"""The Kubernetes builder (USE_K8S=true): a Kaniko Job builds the agent image, a second Job proves it.

`build()` checks the upload, uploads a build context to the bucket, starts the Kaniko Job and
returns None: the build goes on in the cluster and reports back through Job events
(`service/build_jobs.py`), which call `start_checks` once the image is pushed (the validation Job,
and with TRIVY_ENABLED the scan Job beside it) and the `conclude_*` methods once Jobs have ended.

Every Job name is a function of (role, submission, version, attempt), so creating one twice is a
409 that means "already started", never a second build. Failures of the Kubernetes API (anything
but that 409) are `BuildInfrastructureError`: the platform failed, not the user's code.

Imported lazily (by `Platform.builder` and the Job-event handler) because the kubernetes client it
loads costs about 0.3 s, which no other function should pay.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, cast

from kubernetes import client as k8s

from rlarena.adapters import kubernetes_api
from rlarena.adapters.builders.base import (
    BuildInfrastructureError,
    BuildOutcome,
    BuildProgress,
    BuildTicket,
    probe_report,
)
from rlarena.adapters.builders.declared_environment import environment_mismatch
from rlarena.adapters.builders.kaniko_context import (
    ENTRY_POINT_ANNOTATION,
    IMAGE_ANNOTATION,
    REQUIREMENTS_FAILED_MARKER,
    SCAN_JOB_ANNOTATION,
    build_context,
    context_key,
    our_jobs_selector,
    requirement_problems,
)
from rlarena.adapters.builders.kaniko_jobs import (
    KANIKO_LIMITS,
    VALIDATION_DEADLINE_SECONDS,
    VALIDATION_LIMITS,
    build_job_name,
    destination,
    kaniko_deadline_seconds,
    kaniko_job,
    s3_endpoint_url,
    scan_job,
    scan_job_name,
    validation_job,
    validation_job_name,
)
from rlarena.adapters.builders.scan_report import CRITICAL, critical_message, parse_report
from rlarena.adapters.kubernetes_api import ApiConflict, ApiNotFound, api_errors, json_object
from rlarena.adapters.kubernetes_status import (
    JobState,
    annotations_of,
    container_end,
    failure_of,
    job_state,
    name_of,
    never_ran,
    pod_of_job,
)
from rlarena.adapters.source_check import source_check_for
from rlarena.adapters.storage.base import ObjectStore
from rlarena.config import Settings
from rlarena.domain.archives import inspect_upload
from rlarena.errors import RLArenaError, ServiceUnavailable

log = logging.getLogger(__name__)

ApiFactory = Callable[[], k8s.ApiClient]

LOG_CAP = 64 * 1024
LOG_TAIL_LINES = 2000
BUILD_LOG_SHARE = 32 * 1024  # of LOG_CAP, for Kaniko's output; the probe's gets the rest
# Trivy's JSON report is read whole (a tail would cut it), up to this much.
SCAN_LOG_CAP = 16 * 1024 * 1024
REQUEST_TIMEOUT = (5, 30)  # connect, read (seconds): a hung API server must not hang the function


@dataclass(frozen=True)
class Verdict:
    """How an attempt ended on the cluster: an outcome (the user's success or mistake) or the
    platform's failure, which queues the attempt again."""

    outcome: BuildOutcome | None = None
    infrastructure: str | None = None


@dataclass(frozen=True)
class PodOutput:
    pod: Mapping[str, Any] | None
    text: str | None  # None: the API could not give the log
    problem: str = ""  # why there is no log


def cluster_api_client() -> k8s.ApiClient:
    return kubernetes_api.cluster_api_client(BuildInfrastructureError)


class KanikoBuilder:
    def __init__(
        self,
        store: ObjectStore,
        settings: Settings,
        api_factory: ApiFactory = cluster_api_client,
    ) -> None:
        s3_endpoint_url(settings)  # fail at start-up, not at the first build, without S3_ENDPOINT
        self._store = store
        self._settings = settings
        self._api_factory = api_factory
        self._namespace = settings.k8s_namespace
        self._limits = settings.archive_limits()
        # The upload is checked again before an image is built for it (a presigned upload's declared
        # game meets the agent's only here): compiled in a sandboxed child as at intake, never here.
        self._check_sources = source_check_for(settings)
        self._client: k8s.ApiClient | None = None
        self._lock = threading.Lock()

    # -- the Builder protocol --------------------------------------------------------------------

    def build(self, ticket: BuildTicket, progress: BuildProgress) -> BuildOutcome | None:
        """Start the Kaniko Job, report its name, and return None: it reports back by events. The
        Job-event handler moves the attempt on once the image exists and is being proven."""
        header = f"build of version {ticket.version}, attempt {ticket.attempt} on Kubernetes (Kaniko)"
        try:
            data = self._store.get(ticket.source_key)
        except RLArenaError as error:
            raise BuildInfrastructureError(f"could not read the upload: {error.message}") from error
        try:
            source = inspect_upload(ticket.source_filename, data, self._limits, self._check_sources)
        except ServiceUnavailable as error:  # the check could not run: the platform's failure, not the code's
            raise BuildInfrastructureError(error.message) from error
        except RLArenaError as error:
            return BuildOutcome(ok=False, log=f"{header}\n{error.message}", error=error.message)
        mismatch = environment_mismatch(source.declared_environment, ticket.environment_id, source.entry_point)
        if mismatch is not None:
            return BuildOutcome(ok=False, log=f"{header}\n{mismatch}", error=mismatch)
        problems = requirement_problems(source.requirements)
        if problems:
            message = "requirements.txt may only list packages from the package index: " + "; ".join(problems)
            return BuildOutcome(ok=False, log=f"{header}\n{message}", error=message)
        try:
            context = build_context(source, self._settings.agent_base_image)
        except ValueError as error:  # a path the upload allowed, too long once under agent/
            message = f"the code cannot be packed for the image build: {error}; use shorter paths"
            return BuildOutcome(ok=False, log=f"{header}\n{message}", error=message)
        key = context_key(ticket.submission_id, ticket.attempt)
        try:
            self._store.put(key, context, content_type="application/gzip")
        except RLArenaError as error:
            raise BuildInfrastructureError(f"could not upload the build context: {error.message}") from error
        job = kaniko_job(self._settings, ticket, source.entry_point)
        name = build_job_name(ticket)
        if self._create(job, name):
            log.info("build %s attempt %d: started Job %s", ticket.submission_id, ticket.attempt, name)
        else:
            log.info("build %s attempt %d: Job %s already exists", ticket.submission_id, ticket.attempt, name)
        progress.job_started(name)
        return None

    # -- what the Job-event handler uses ----------------------------------------------------------

    def job(self, name: str) -> dict[str, Any] | None:
        """The Job as it is now, or None if it is gone."""
        batch = k8s.BatchV1Api(self._api())
        try:
            with _api_errors(f"read Job {name}"):
                response = batch.read_namespaced_job(
                    name, self._namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
                )
        except _NotFound:
            return None
        return _json_object(response)

    def list_jobs(self) -> list[dict[str, Any]]:
        """Every Job of ours in the namespace (builds and validations)."""
        batch = k8s.BatchV1Api(self._api())
        try:
            with _api_errors("list Jobs"):
                response = batch.list_namespaced_job(
                    self._namespace,
                    label_selector=our_jobs_selector(),
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
        except _NotFound as error:
            raise BuildInfrastructureError(str(error)) from error
        return [item for item in _json_object(response).get("items") or [] if isinstance(item, dict)]

    def start_checks(self, ticket: BuildTicket, build_job: Mapping[str, Any]) -> list[str]:
        """Create the validation Job for a built image and, with TRIVY_ENABLED, the scan Job beside it.

        Calling again is harmless (409s). The scan Job is created first and the validation Job names
        it, so whoever concludes the validation knows which scan to wait for.
        """
        annotations = annotations_of(build_job)
        image = str(annotations.get(IMAGE_ANNOTATION) or destination(self._settings, ticket))
        entry_point = str(annotations.get(ENTRY_POINT_ANNOTATION) or "")
        if not entry_point:
            raise BuildInfrastructureError(f"Job {name_of(build_job)} does not say which file starts the agent")
        scan = scan_job_name(ticket) if self._settings.trivy_enabled else None
        if scan is not None:
            self._create(scan_job(self._settings, ticket, image), scan)
        name = validation_job_name(ticket)
        self._create(validation_job(self._settings, ticket, image, entry_point, scan_job=scan), name)
        return [name] if scan is None else [name, scan]

    def build_pod_name(self, job: Mapping[str, Any]) -> str | None:
        """The name of the Pod running (or that ran) the Job, None while it has none."""
        pod = self._pod_of(job)
        return name_of(pod) if pod is not None else None

    def conclude_build(self, ticket: BuildTicket, job: Mapping[str, Any]) -> Verdict:
        """A failed Kaniko Job: the user's requirements, or the platform (registry, storage, nodes)?"""
        name = name_of(job)
        reason, message = failure_of(job)
        output = self._pod_output(job)
        end = container_end(output.pod)
        lines = [f"build of version {ticket.version}, attempt {ticket.attempt} on Kubernetes (Kaniko)"]
        lines.append(f"image build: Job {name} failed ({reason or 'no reason given'}) {message}".rstrip())
        lines.append(_output_section("Kaniko output", output, BUILD_LOG_SHARE))
        if never_ran(end):
            return Verdict(infrastructure=f"the image build never ran ({end.reason}: {end.message or message})")
        if end.reason == "OOMKilled":
            error = (
                f"building the image ran out of memory ({KANIKO_LIMITS['memory']}): "
                "requirements.txt asks for more than a build can hold"
            )
            return Verdict(outcome=_failed(lines, error))
        if reason == "DeadlineExceeded":
            seconds = kaniko_deadline_seconds(self._settings)
            error = f"building the image took longer than {seconds} seconds: trim requirements.txt"
            return Verdict(outcome=_failed(lines, error))
        if output.text is None:
            return Verdict(infrastructure=f"the image build failed and its log could not be read: {output.problem}")
        if REQUIREMENTS_FAILED_MARKER in output.text:
            error = (
                "installing requirements.txt failed; see the build log. Only packages published as wheels "
                "for Linux and Python 3.11 can be installed"
            )
            return Verdict(outcome=_failed(lines, error))
        return Verdict(infrastructure=f"Kaniko failed: {_last_line(output.text) or reason}")

    def conclude_validation(self, ticket: BuildTicket, job: Mapping[str, Any]) -> Verdict:
        """A finished validation Job: the agent's interface, or why it could not be loaded."""
        state = job_state(job)
        image = str(annotations_of(job).get(IMAGE_ANNOTATION) or destination(self._settings, ticket))
        output = self._pod_output(job)  # first: without it there is no verdict
        build = self._pod_output_of(build_job_name(ticket))
        lines = [
            f"build of version {ticket.version}, attempt {ticket.attempt} on Kubernetes (Kaniko)",
            f"image build: Job {build_job_name(ticket)} pushed {image}",
            _output_section("Kaniko output", build, BUILD_LOG_SHARE),
            f"validation: Job {name_of(job)} {state.value}",
            _output_section("agent output", output, LOG_CAP - BUILD_LOG_SHARE),
        ]
        if state is JobState.SUCCEEDED:
            return Verdict(outcome=_validated(lines, output, image, ticket.environment_id))
        return _validation_failure(lines, job, output)

    def conclude_checks(self, ticket: BuildTicket, validation: Mapping[str, Any]) -> Verdict | None:
        """A finished validation Job and the scan started beside it, if any; None while the scan runs.

        A failed validation decides at once (the scan cannot save it). A passed one waits for the
        scan, whose counts are recorded; with TRIVY_FAIL_ON_CRITICAL, CRITICAL findings fail the build.
        """
        scan_name = str(annotations_of(validation).get(SCAN_JOB_ANNOTATION) or "")
        scan: dict[str, Any] | None = None
        if scan_name and job_state(validation) is JobState.SUCCEEDED:
            scan = self.job(scan_name)
            if scan is not None and job_state(scan) is JobState.RUNNING:
                return None
        verdict = self.conclude_validation(ticket, validation)
        if not scan_name or verdict.outcome is None or not verdict.outcome.ok:
            return verdict
        return self._judge_scan(verdict.outcome, scan_name, scan)

    def discard(self, ticket: BuildTicket) -> None:
        """Delete the attempt's Jobs so that running it again can create them afresh."""
        batch = k8s.BatchV1Api(self._api())
        for name in (scan_job_name(ticket), validation_job_name(ticket), build_job_name(ticket)):
            try:
                with _api_errors(f"delete Job {name}"):
                    # Background: the Job goes at once (its name is free again), its Pods soon after.
                    batch.delete_namespaced_job(
                        name, self._namespace, propagation_policy="Background", _request_timeout=REQUEST_TIMEOUT
                    )
            except _NotFound:
                continue

    # -- plumbing ----------------------------------------------------------------------------------

    def _api(self) -> k8s.ApiClient:
        with self._lock:
            if self._client is None:
                self._client = self._api_factory()
            return self._client

    def _create(self, job: k8s.V1Job, name: str) -> bool:
        """Create the Job; False if it exists already (409: this attempt was started before)."""
        batch = k8s.BatchV1Api(self._api())
        try:
            with _api_errors(f"create Job {name}"):
                batch.create_namespaced_job(self._namespace, job, _request_timeout=REQUEST_TIMEOUT)
        except _Exists:
            return False
        except _NotFound as error:  # the namespace does not exist: the cluster is not set up
            raise BuildInfrastructureError(f"{error} (does namespace {self._namespace} exist?)") from error
        return True

    def _pod_output_of(self, job_name: str) -> PodOutput:
        """Another Job's output, for the build log only: whatever goes wrong is just reported."""
        try:
            job = self.job(job_name)
            if job is None:
                return PodOutput(None, None, f"Job {job_name} is gone")
            return self._pod_output(job)
        except BuildInfrastructureError as error:
            return PodOutput(None, None, str(error))

    def _judge_scan(self, outcome: BuildOutcome, name: str, scan: Mapping[str, Any] | None) -> Verdict:
        """Add the finished scan to a validated build: its counts, and its CRITICAL findings' verdict."""
        report, problem = None, f"its Job {name} is gone"
        if scan is not None:
            output = self._pod_output(scan, tail_lines=None, limit_bytes=SCAN_LOG_CAP)
            if job_state(scan) is JobState.FAILED:
                reason, message = failure_of(scan)
                problem = f"Job {name} failed ({reason or message or 'no reason given'}): "
                problem += _last_line(output.text or "") or output.problem or "no output"
            elif output.text is None:
                problem = f"its log could not be read ({output.problem})"
            else:
                report = parse_report(output.text)
                problem = f"Trivy printed no report: {_last_line(output.text) or 'no output'}"
        if report is None:
            if self._settings.trivy_fail_on_critical:  # an image that was not scanned cannot be accepted
                return Verdict(infrastructure=f"the image scan failed: {problem}")
            note = f"image scan (Trivy): failed, {problem}; the vulnerabilities are unknown"
            return Verdict(outcome=replace(outcome, log=_join([outcome.log, note])))
        lines = [outcome.log, f"image scan (Trivy): {report.summary()}"]
        lines += [f"CRITICAL: {finding.describe()}" for finding in report.critical]
        counts = report.as_json()
        if self._settings.trivy_fail_on_critical and report.counts[CRITICAL]:
            error = critical_message(report)
            return Verdict(
                outcome=BuildOutcome(ok=False, log=_join([*lines, error]), error=error, vulnerabilities=counts)
            )
        return Verdict(outcome=replace(outcome, log=_join(lines), vulnerabilities=counts))

    def _pod_of(self, job: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The Job's newest Pod, listed by the job-name label the Job controller puts on its Pods."""
        name = name_of(job)
        core = k8s.CoreV1Api(self._api())
        try:
            with _api_errors(f"list the Pods of Job {name}"):
                response = core.list_namespaced_pod(
                    self._namespace,
                    label_selector=f"job-name={name}",
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
        except _NotFound as error:
            raise BuildInfrastructureError(str(error)) from error
        pods = [pod for pod in _json_object(response).get("items") or [] if isinstance(pod, dict)]
        return pod_of_job(pods, job)

    def _pod_output(
        self, job: Mapping[str, Any], *, tail_lines: int | None = LOG_TAIL_LINES, limit_bytes: int | None = None
    ) -> PodOutput:
        """The Job's Pod and the tail of its log; a log the API cannot give is reported, not raised.

        Failing to list the Pods does raise: without the Pod, a failure cannot be told apart from
        one that never ran, so the verdict waits for the event's redelivery or the reconciler.
        """
        pod = self._pod_of(job)
        if pod is None:
            return PodOutput(None, None, f"Job {name_of(job)} has no Pod")
        core = k8s.CoreV1Api(self._api())
        try:
            with _api_errors(f"read the log of Pod {name_of(pod)}"):
                raw = core.read_namespaced_pod_log(
                    name_of(pod),
                    self._namespace,
                    tail_lines=tail_lines,
                    limit_bytes=limit_bytes,
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            data = cast(Any, raw).data
        except (BuildInfrastructureError, _NotFound) as error:
            return PodOutput(pod, None, str(error))
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
        return PodOutput(pod, text)


_NotFound, _Exists = ApiNotFound, ApiConflict


def _api_errors(what: str) -> AbstractContextManager[None]:
    return api_errors(what, BuildInfrastructureError)


def _json_object(response: object) -> dict[str, Any]:
    return json_object(response, BuildInfrastructureError)


def _validated(lines: list[str], output: PodOutput, image: str, environment_id: str) -> BuildOutcome:
    """The probe exited 0; its report says which interface the agent offers (and any declared game)."""
    if output.text is None:
        interface = "unknown: the probe's report could not be read"
        lines = [*lines, f"the validation Job succeeded, but its log could not be read ({output.problem})"]
    else:
        report = probe_report(output.text)
        if report is None or not report.get("ok"):
            return _failed(lines, "the agent could not be loaded: the probe gave no report")
        declared = report.get("environment")
        mismatch = environment_mismatch(declared if isinstance(declared, str) else None, environment_id)
        if mismatch is not None:
            return _failed(lines, mismatch)
        interface = f"{report.get('interface')} ({report.get('method')})"
    lines = [*lines, f"agent interface: {interface}"]
    return BuildOutcome(ok=True, log=_join(lines), image_url=image, interface=interface)


def _validation_failure(lines: list[str], job: Mapping[str, Any], output: PodOutput) -> Verdict:
    """The probe failed: the user's code (with its error and traceback), or a Pod that never ran."""
    reason, message = failure_of(job)
    end = container_end(output.pod)
    report = probe_report(output.text) if output.text is not None else None
    if never_ran(end):
        return Verdict(infrastructure=f"the validation never ran ({end.reason}: {end.message or message})")
    if end.reason == "OOMKilled":
        error = f"the agent used more than {VALIDATION_LIMITS['memory']} of memory while loading"
    elif report is not None and not report.get("ok"):
        error = str(report.get("error") or "the agent could not be loaded")
        lines = [*lines, str(report.get("traceback") or "")]
    elif reason == "DeadlineExceeded":
        error = f"loading the agent took longer than {VALIDATION_DEADLINE_SECONDS} seconds"
    else:
        code = f" (exit code {end.exit_code})" if end.exit_code is not None else ""
        error = f"the agent could not be loaded{code}"
        if output.text is None:
            lines = [*lines, f"the agent's output could not be read: {output.problem}"]
    return Verdict(outcome=_failed(lines, error))


def _output_section(title: str, output: PodOutput, cap: int) -> str:
    if output.text is None:
        return f"{title}: not available ({output.problem})"
    text = output.text.strip()
    if len(text) > cap:
        text = "[... earlier output cut ...]\n" + text[-cap:]
    return f"{title}:\n{text}" if text else f"{title}: (none)"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


def _failed(lines: list[str], error: str) -> BuildOutcome:
    return BuildOutcome(ok=False, log=_join([*lines, error]), error=error)


def _join(lines: list[str]) -> str:
    text = "\n".join(line for line in lines if line)
    # Keep the tail: the end of a log is where the failure is.
    return text if len(text) <= LOG_CAP else "[... earlier output cut ...]\n" + text[-LOG_CAP:]
