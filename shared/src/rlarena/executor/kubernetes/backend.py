"""Playing a match as a Kubernetes Job (USE_K8S=true) and reading its result back.

`KubernetesMatchRunner.play` creates the match's Job (`jobs.py`), polls it until it has ended,
then reads the result from the runner container's log (`result_log.py`) and each agent's output
from its own container's log. It returns what the local runner returns (`MatchResult`), so the
executor's service stores, announces and reports it the same way.

The Job's name is a function of the match id: a RunMatch redelivered while the match runs, or
after it ended (the Job is kept an hour), meets a 409 and follows the existing Job instead of
playing again. When the Pod fails (the runner ran out of memory, an agent image could not be
pulled, the deadline passed) the result is a platform ERROR with the reason: no agent is blamed
for what the cluster did.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, cast

from kubernetes import client as k8s

from rlarena.adapters import kubernetes_api
from rlarena.adapters.kubernetes_api import ApiConflict, ApiNotFound, api_errors, json_object
from rlarena.adapters.kubernetes_status import (
    ContainerEnd,
    JobState,
    container_end,
    failure_of,
    job_state,
    name_of,
    never_ran,
    pod_of_job,
)
from rlarena.config import Settings
from rlarena.environments import registry
from rlarena.errors import ConfigurationError, InvalidInput, ServiceUnavailable
from rlarena.executor.kubernetes.images import ImageEntry
from rlarena.executor.kubernetes.jobs import (
    RUNNER,
    active_deadline_seconds,
    match_job,
    match_job_name,
    player_container,
)
from rlarena.executor.result_log import ResultUnreadable, read_result
from rlarena.executor.runner import MATCH_ERROR, AgentResult, MatchResult
from rlarena.executor.service import MatchOrder

log = logging.getLogger(__name__)

ApiFactory = Callable[[], k8s.ApiClient]

REQUEST_TIMEOUT = (5, 30)  # connect, read (seconds): a hung API server must not hang the match thread
RESULT_LOG_BYTES = 64 * 1024 * 1024  # the runner's log: the result, replay included, compressed
AGENT_LOG_CHARS = 10_000  # as the local runner keeps of an agent's stderr
# After the Job's own deadline, how long to keep polling before giving up on it (the Job
# controller marks a Job failed within seconds of its deadline).
WAIT_MARGIN_SECONDS = 60


def cluster_api_client() -> k8s.ApiClient:
    return kubernetes_api.cluster_api_client(ConfigurationError)


class KubernetesMatchRunner:
    def __init__(self, settings: Settings, api_factory: ApiFactory | None = None, *, poll_seconds: float = 2.0) -> None:
        self._settings = settings
        self._namespace = settings.k8s_namespace
        self._api_factory = api_factory or cluster_api_client
        self._poll_seconds = poll_seconds
        self._client: k8s.ApiClient | None = None
        self._lock = threading.Lock()

    def play(self, order: MatchOrder) -> MatchResult:
        started = time.monotonic()
        spec = registry.spec_of(order.environment)  # an unknown game is the caller's error: raise
        job = match_job(self._settings, order, _images(order), spec)
        name = match_job_name(order.match_id)
        if self._create(job, name):
            log.info("match %s: started Job %s", order.match_id, name)
        else:
            log.info("match %s: Job %s exists already; following it", order.match_id, name)
        try:
            finished = self._wait(name, active_deadline_seconds(self._settings, spec) + WAIT_MARGIN_SECONDS)
        except _Gone as gone:
            return _platform_error(order, started, str(gone))
        if finished is None:
            self._delete(name)
            return _platform_error(order, started, f"the match Job {name} did not end in time; it was deleted")
        pod = self._pod(finished)
        if job_state(finished) is JobState.SUCCEEDED:
            result = self._result(order, started, name, pod)
        else:
            result = _platform_error(order, started, _why_it_failed(finished, pod, self._runner_log_tail(pod)))
        for player, agent_result in enumerate(result.agent_results):
            agent_result.stderr = self._agent_output(pod, player)
            agent_result.stderr_offsets = []  # the container's log is not the runner's capture
        return result

    # -- reading the outcome -----------------------------------------------------------------------

    def _result(self, order: MatchOrder, started: float, name: str, pod: Mapping[str, Any] | None) -> MatchResult:
        if pod is None:
            return _platform_error(order, started, f"the match Job {name} succeeded but its Pod is gone")
        try:
            return read_result(self._log(pod, RUNNER, limit_bytes=RESULT_LOG_BYTES))
        except (ServiceUnavailable, ResultUnreadable) as error:
            message = error.message if isinstance(error, ServiceUnavailable) else str(error)
            return _platform_error(order, started, f"the match's result could not be read: {message}")

    def _runner_log_tail(self, pod: Mapping[str, Any] | None) -> str:
        if pod is None:
            return ""
        try:
            text = self._log(pod, RUNNER, tail_lines=5)
        except ServiceUnavailable:
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1][:500] if lines else ""

    def _agent_output(self, pod: Mapping[str, Any] | None, player: int) -> str:
        """The agent container's log (what the agent printed), capped like the local runner's stderr.

        A sidecar that crashed was restarted: its earlier run, the one that played, is `previous`.
        """
        if pod is None:
            return ""
        name = player_container(player)
        restarted = int(_container_status(pod, name).get("restartCount") or 0) > 0
        try:
            text = self._log(pod, name, limit_bytes=AGENT_LOG_CHARS * 4, previous=restarted)
        except ServiceUnavailable as error:
            return f"[the agent's output could not be read: {error.message}]"
        if len(text) > AGENT_LOG_CHARS:
            return text[:AGENT_LOG_CHARS] + "\n[stderr truncated]"
        return text

    # -- the API -------------------------------------------------------------------------------------

    def _api(self) -> k8s.ApiClient:
        with self._lock:
            if self._client is None:
                self._client = self._api_factory()
            return self._client

    def _create(self, job: k8s.V1Job, name: str) -> bool:
        """Create the Job; False if it exists already (409: this match was started before)."""
        batch = k8s.BatchV1Api(self._api())
        try:
            with _api_errors(f"create Job {name}"):
                batch.create_namespaced_job(self._namespace, job, _request_timeout=REQUEST_TIMEOUT)
        except _Exists:
            return False
        except _NotFound as error:
            raise ServiceUnavailable(f"{error} (does namespace {self._namespace} exist?)") from error
        return True

    def _wait(self, name: str, timeout: float) -> dict[str, Any] | None:
        """The Job once it has ended, None if it does not within `timeout` seconds; _Gone if it vanishes.

        An API failure while waiting is logged and the polling goes on: the match runs in the
        cluster whatever happens to one request.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                job = self._read_job(name)
            except ServiceUnavailable as error:
                log.warning("match Job %s: %s; polling again", name, error.message)
            else:
                if job is None:
                    raise _Gone(f"the match Job {name} was deleted before it ended")
                if job_state(job) is not JobState.RUNNING:
                    return job
            if time.monotonic() >= deadline:
                return None
            time.sleep(self._poll_seconds)

    def _read_job(self, name: str) -> dict[str, Any] | None:
        batch = k8s.BatchV1Api(self._api())
        try:
            with _api_errors(f"read Job {name}"):
                response = batch.read_namespaced_job(
                    name, self._namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
                )
        except _NotFound:
            return None
        return _json_object(response)

    def _delete(self, name: str) -> None:
        batch = k8s.BatchV1Api(self._api())
        try:
            with _api_errors(f"delete Job {name}"):
                batch.delete_namespaced_job(
                    name, self._namespace, propagation_policy="Background", _request_timeout=REQUEST_TIMEOUT
                )
        except (_NotFound, ServiceUnavailable) as error:  # the Job's own TTL and deadline still apply
            log.warning("match Job %s: %s", name, error)

    def _pod(self, job: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The Job's Pod, or None when it has none or the Pods cannot be listed (the result says so)."""
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
            pods = [pod for pod in _json_object(response).get("items") or [] if isinstance(pod, dict)]
        except (_NotFound, ServiceUnavailable) as error:
            log.warning("match Job %s: %s", name, error)
            return None
        return pod_of_job(pods, job)

    def _log(self, pod: Mapping[str, Any], container: str, **options: Any) -> str:
        core = k8s.CoreV1Api(self._api())
        try:
            with _api_errors(f"read the log of {container} in Pod {name_of(pod)}"):
                raw = core.read_namespaced_pod_log(
                    name_of(pod),
                    self._namespace,
                    container=container,
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                    **options,
                )
        except _NotFound as error:
            raise ServiceUnavailable(str(error)) from error
        data = cast(Any, raw).data
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)


def _images(order: MatchOrder) -> list[ImageEntry]:
    images = [agent for agent in order.agents if isinstance(agent, ImageEntry)]
    if len(images) != len(order.agents):
        raise InvalidInput("matches on Kubernetes play built images; a local build cannot run here")
    return images


def _why_it_failed(job: Mapping[str, Any], pod: Mapping[str, Any] | None, runner_tail: str) -> str:
    """Why a match Job failed, in words: the cluster's reason, then which container and how."""
    reason, message = failure_of(job)
    if pod is None:
        return f"the match Pod never ran ({': '.join(part for part in (reason, message) if part) or 'no reason given'})"
    for player in (0, 1):
        end = _end(pod, player_container(player))
        if never_ran(end) and end.reason not in ("Pending", "Waiting"):
            return f"the image of player {player} could not be started ({end.reason}: {end.message})"
    runner = _end(pod, RUNNER)
    if runner.reason == "OOMKilled":
        return "the match runner ran out of memory"
    if reason == "DeadlineExceeded":
        return f"the match Pod did not finish before its deadline ({message or 'activeDeadlineSeconds'})"
    if not runner.started:
        return f"the match runner never started ({runner.reason}: {runner.message or message})"
    code = f" with exit code {runner.exit_code}" if runner.exit_code is not None else ""
    detail = f": {runner_tail}" if runner_tail else ""
    return f"the match runner failed{code}{detail}"


def _container_status(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The named container's status; sidecars report theirs among the init containers'."""
    status = pod.get("status")
    if not isinstance(status, Mapping):
        return {}
    for key in ("initContainerStatuses", "containerStatuses"):
        entries = status.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, Mapping) and entry.get("name") == name:
                return entry
    return {}


def _end(pod: Mapping[str, Any], name: str) -> ContainerEnd:
    """How the named container ended (container_end reads a Pod's first container status)."""
    found = _container_status(pod, name)
    return container_end({"status": {"containerStatuses": [found]} if found else {"phase": "Pending"}})


def _platform_error(order: MatchOrder, started: float, message: str) -> MatchResult:
    log.warning("match %s failed on the cluster: %s", order.match_id, message)
    return MatchResult(
        status=MATCH_ERROR,
        winner_agent_id="",
        agent_results=[AgentResult(agent.agent_id) for agent in order.agents],
        total_steps=0,
        execution_time_sec=time.monotonic() - started,
        seed=order.seed,
        replay=None,
        outcome_reason="platform error",
        error_message=message,
    )


_NotFound, _Exists = ApiNotFound, ApiConflict


class _Gone(Exception):
    pass


def _api_errors(what: str) -> AbstractContextManager[None]:
    return api_errors(what, ServiceUnavailable)


def _json_object(response: object) -> dict[str, Any]:
    return json_object(response, ServiceUnavailable)
