"""Reading Jobs and Pods as the JSON the API server sends (in events and listings). Stdlib only.

The same dicts arrive from two places, an ApiServerSource event and a listing by the reconciler,
so everything here works on plain JSON rather than client models. Shared by the Kaniko builder,
the build-job events (`service/build_jobs.py`) and the executor's match Jobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# A container that waited for ever with one of these never ran the build or the agent at all.
_NEVER_STARTED = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"}
)


class JobState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class ContainerEnd:
    """How a Pod's first container ended, or why it never started."""

    started: bool
    exit_code: int | None = None
    reason: str = ""  # OOMKilled, Error, Completed, or the waiting reason (ErrImagePull, ...)
    message: str = ""


def name_of(obj: Mapping[str, Any]) -> str:
    return str(_mapping(obj.get("metadata")).get("name") or "")


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(_mapping(obj.get("metadata")).get("uid") or "")


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(obj.get("metadata")).get("labels"))


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(obj.get("metadata")).get("annotations"))


def job_state(job: Mapping[str, Any]) -> JobState:
    """Finished only once the Job controller says so with a Complete or Failed condition.

    FailureTarget and SuccessCriteriaMet (Kubernetes 1.31+) come earlier, while Pods may still be
    terminating; acting on them could read a log that is not complete yet.
    """
    status = _mapping(job.get("status"))
    for condition in _conditions(status):
        if condition.get("status") == "True" and condition.get("type") == "Complete":
            return JobState.SUCCEEDED
        if condition.get("status") == "True" and condition.get("type") == "Failed":
            return JobState.FAILED
    return JobState.RUNNING


def failure_of(job: Mapping[str, Any]) -> tuple[str, str]:
    """The (reason, message) of a failed Job's Failed condition: BackoffLimitExceeded, DeadlineExceeded..."""
    for condition in _conditions(_mapping(job.get("status"))):
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return str(condition.get("reason") or ""), str(condition.get("message") or "")
    return "", ""


def pod_of_job(pods: Sequence[Mapping[str, Any]], job: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The newest Pod the Job created (there is one: backoffLimit 0, but an evicted Pod is replaced).

    Listings are filtered again here: by the job-name label, and by owner UID when both are known,
    so a Pod left over from a deleted Job of the same name is never taken for the new Job's.
    """
    name, uid = name_of(job), uid_of(job)
    mine = []
    for pod in pods:
        labels = labels_of(pod)
        if name not in (labels.get("batch.kubernetes.io/job-name"), labels.get("job-name")):
            continue
        owners = [_mapping(o).get("uid") for o in _list(_mapping(pod.get("metadata")).get("ownerReferences"))]
        if uid and owners and uid not in owners:
            continue
        mine.append(pod)
    mine.sort(key=lambda pod: str(_mapping(pod.get("metadata")).get("creationTimestamp") or ""))
    return mine[-1] if mine else None


def container_end(pod: Mapping[str, Any] | None) -> ContainerEnd:
    if pod is None:
        return ContainerEnd(started=False, reason="NoPod", message="the Job never created a Pod")
    status = _mapping(pod.get("status"))
    statuses = _list(status.get("containerStatuses"))
    if not statuses:
        reason = str(status.get("reason") or status.get("phase") or "Pending")
        return ContainerEnd(started=False, reason=reason, message=str(status.get("message") or ""))
    state = _mapping(_mapping(statuses[0]).get("state"))
    terminated = _mapping(state.get("terminated"))
    if terminated:
        code = terminated.get("exitCode")
        return ContainerEnd(
            started=True,
            exit_code=code if isinstance(code, int) else None,
            reason=str(terminated.get("reason") or ""),
            message=str(terminated.get("message") or ""),
        )
    if state.get("running"):
        return ContainerEnd(started=True, reason="Running")
    waiting = _mapping(state.get("waiting"))
    return ContainerEnd(
        started=False, reason=str(waiting.get("reason") or "Waiting"), message=str(waiting.get("message") or "")
    )


def never_ran(end: ContainerEnd) -> bool:
    return not end.started and (end.reason in _NEVER_STARTED or end.reason in ("NoPod", "Pending", "Waiting"))


def _conditions(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [_mapping(condition) for condition in _list(status.get("conditions"))]


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
