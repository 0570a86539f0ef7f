"""An in-memory Kubernetes API server (kmock) on 127.0.0.1, in a thread, for synchronous code.

kmock is asyncio; the builder uses the synchronous kubernetes client. So the emulator runs its own
event loop in a background thread and the tests talk to it over HTTP like any client would. Its
Job controller is the test itself: `finish_job` writes what the real one would (the Job's final
condition, its Pod with the container's end, and the Pod's log).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import kmock
from kubernetes import client as k8s

if TYPE_CHECKING:
    from tests.support.seaweedfs import S3Server

REGISTRY = "registry.test/rlarena"
JOBS = kmock.resource("batch", "v1", "jobs")
PODS = kmock.resource("", "v1", "pods")


@dataclass
class Cluster:
    url: str
    emulator: Any  # kmock.KubernetesEmulator (untyped)
    namespace: str
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _pods: int = 0

    def api_client(self) -> k8s.ApiClient:
        configuration = k8s.Configuration()
        configuration.host = self.url.rstrip("/")
        return k8s.ApiClient(configuration)

    @property
    def batch(self) -> k8s.BatchV1Api:
        return k8s.BatchV1Api(self.api_client())

    def jobs(self) -> dict[str, dict[str, Any]]:
        """Every Job in the namespace, by name, as JSON."""
        response = self.batch.list_namespaced_job(self.namespace, _preload_content=False)
        items = _json(response)["items"]
        return {item["metadata"]["name"]: item for item in items}

    def job(self, name: str) -> dict[str, Any]:
        return _json(self.batch.read_namespaced_job(name, self.namespace, _preload_content=False))

    def set_job_state(self, name: str, condition: str, *, reason: str = "", message: str = "") -> dict[str, Any]:
        """What the Job controller writes at the end: a Complete or Failed condition."""
        ended = {"type": condition, "status": "True", "reason": reason, "message": message}
        status: dict[str, Any] = {"conditions": [ended]}
        status["succeeded" if condition == "Complete" else "failed"] = 1
        self.batch.patch_namespaced_job_status(name, self.namespace, {"status": status})
        return self.job(name)

    def add_pod(self, job_name: str, state: dict[str, Any], log: str | None) -> str:
        """The Job's Pod with its container's state, and its log (None: the API will not give it)."""
        self._pods += 1
        pod_name = f"{job_name[:50]}-{self._pods:05d}"
        self.emulator.objects[PODS, self.namespace, pod_name] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": self.namespace,
                "creationTimestamp": f"2026-01-01T00:{self._pods // 60:02d}:{self._pods % 60:02d}Z",
                "labels": {"job-name": job_name, "batch.kubernetes.io/job-name": job_name},
            },
            "status": {"containerStatuses": [{"name": "main", "state": state}]},
        }
        path = f"/api/v1/namespaces/{self.namespace}/pods/{pod_name}/log"
        if log is None:
            self.emulator["get", path] << 500
        else:
            self.emulator["get", path] << log.encode()
        return pod_name

    def finish_job(
        self, name: str, *, ok: bool, log: str | None = "", exit_code: int | None = None, reason: str = ""
    ) -> dict[str, Any]:
        """Run the Job to its end: Pod terminated (or never started), log, then the Job's condition."""
        if exit_code is None:
            exit_code = 0 if ok else 1
        if reason in ("ErrImagePull", "ImagePullBackOff"):
            state: dict[str, Any] = {"waiting": {"reason": reason, "message": "pull access denied"}}
        else:
            state = {"terminated": {"exitCode": exit_code, "reason": reason or ("Completed" if ok else "Error")}}
        self.add_pod(name, state, log)
        if ok:
            return self.set_job_state(name, "Complete")
        job_reason = (
            "DeadlineExceeded" if reason in ("DeadlineExceeded", "ImagePullBackOff") else "BackoffLimitExceeded"
        )
        return self.set_job_state(name, "Failed", reason=job_reason, message="Job has reached the specified limit")

    def fail_requests(self, method: str, resource: Any, count: int = 1) -> None:
        """The next `count` matching requests answer 500 (the emulator still applies a create)."""
        remaining = [count]

        def fail(_request: object) -> object:
            if remaining[0] <= 0:
                return NotImplemented  # kmock: not this reaction any more, serve normally
            remaining[0] -= 1
            return kmock.KubernetesError(status=500, reason="InternalError", message="injected by the test")

        self.emulator[method, resource] << fail

    def stop(self) -> None:
        """Shut the server down (its port refuses connections once this returns)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


def _json(response: object) -> dict[str, Any]:
    # With _preload_content=False the client hands back the raw HTTP response, whatever it declares.
    found: dict[str, Any] = json.loads(cast(Any, response).data)
    return found


@contextmanager
def running_cluster(namespace: str) -> Iterator[Cluster]:
    ready = threading.Event()
    holder: dict[str, Any] = {}
    stop = threading.Event()

    async def serve() -> None:
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator, host="127.0.0.1") as server:
            # Listing an empty resource needs it declared first.
            emulator.resources["batch/v1/jobs"] = kmock.ResourceInfo(kind="Job", namespaced=True)
            emulator.resources["v1/pods"] = kmock.ResourceInfo(kind="Pod", namespaced=True)
            holder.update(emulator=emulator, url=str(server.url))
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as error:  # reported to the waiting test instead of lost in the thread
            holder["error"] = error
            ready.set()

    thread = threading.Thread(target=run, name="kmock", daemon=True)
    thread.start()
    if not ready.wait(30) or "error" in holder:
        raise RuntimeError(f"kmock did not start: {holder.get('error')!r}")
    cluster = Cluster(url=holder["url"], emulator=holder["emulator"], namespace=namespace, _stop=stop, _thread=thread)
    try:
        yield cluster
    finally:
        cluster.stop()


def kubernetes_overrides(s3_server: S3Server, namespace: str, bucket_prefix: str, **extra: object) -> dict[str, object]:
    """Settings for the platform on Kubernetes (USE_K8S) with a fresh bucket on the S3 server."""
    return {
        "USE_K8S": True,
        "S3_ENDPOINT": s3_server.endpoint,
        "S3_ACCESS_KEY": s3_server.access_key,
        "S3_SECRET_KEY": s3_server.secret_key,
        "S3_BUCKET": f"{bucket_prefix}-{uuid.uuid4().hex[:16]}",
        "K8S_NAMESPACE": namespace,
        "CONTAINER_REGISTRY_URL": REGISTRY,
        "SUBMISSIONS_PER_AGENT_PER_DAY": 50,
        "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000,
        **extra,
    }
