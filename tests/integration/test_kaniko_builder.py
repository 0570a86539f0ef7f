"""Builds on Kubernetes against an in-memory API server (kmock) and a real S3 server (SeaweedFS).

The test plays the Job controller: it writes each Job's final condition, Pod and log, then hands
the Job's JSON to the event handler as the ApiServerSource would (or lets the reconciler find it).
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import uuid

import kubernetes_validate
import pytest
from functions_framework import create_app

from rlarena.adapters.builders.kaniko import KanikoBuilder
from rlarena.adapters.builders.kaniko_context import REQUIREMENTS_FAILED_MARKER, context_key
from rlarena.bootstrap import Platform
from rlarena.errors import EventRetry
from rlarena.service import build_jobs, build_queue, builds, submissions
from tests.conftest import ROOT
from tests.support.api import ApiClient, User
from tests.support.builds import RecordedProgress
from tests.support.cluster import JOBS, PODS, REGISTRY, Cluster, kubernetes_overrides
from tests.support.kaniko import (
    AGENT,
    BUILDS_NAMESPACE,
    REPORT_OK,
    build_and_validate,
    later,
    names,
    published,
    row,
    submit,
    submit_direct,
)
from tests.support.pod_security import assert_untrusted_pod
from tests.support.seaweedfs import S3Server

NAMESPACE = BUILDS_NAMESPACE


@pytest.fixture
def settings_overrides(s3_server: S3Server, request: pytest.FixtureRequest) -> dict[str, object]:
    extra: dict[str, object] = getattr(request, "param", {})  # a test's own, through indirect parametrization
    return kubernetes_overrides(s3_server, NAMESPACE, "kaniko", BUILD_CONCURRENCY=4, **extra)


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register("kaniko")


@pytest.fixture
def agent_id(api: ApiClient, owner: User) -> str:
    return str(api.create_agent(owner, "imaged", "pong")["id"])


# --- starting a build ----------------------------------------------------------------------------


def test_a_claimed_build_uploads_its_context_and_starts_one_kaniko_job(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id, {"agent.py": AGENT, "requirements.txt": b"numpy==2.0\n"})

    run = build_queue.run_queue(platform)

    assert (run.started, run.finished) == (1, 0)  # asynchronous: the Job reports back later
    build_name, _ = names(submission_id)
    jobs = cluster.jobs()
    assert list(jobs) == [build_name]
    job = jobs[build_name]
    assert job["metadata"]["labels"]["rlarena.dev/role"] == "build"
    assert job["metadata"]["labels"]["rlarena.dev/submission"] == str(submission_id)
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    key = context_key(submission_id, 1)
    assert f"--context=s3://{platform.settings.s3_bucket}/{key}" in args
    assert f"--destination={REGISTRY}/{agent_id}:{submission_id}-v1" in args
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(platform.store.get(key)))) as context:
        members = set(context.getnames())
        recipe = (context.extractfile("Dockerfile") or io.BytesIO()).read().decode()
    assert {"Dockerfile", "agent/agent.py", "agent/requirements.txt", "rlarena/agent_runtime/probe.py"} <= members
    assert "pip install --no-cache-dir" in recipe
    current = row(platform, submission_id)
    assert (current.status, current.build_job_name) == ("building", build_name)
    assert published(platform, "build.started")[0]["submissionId"] == str(submission_id)


def test_a_redelivered_start_of_the_same_attempt_creates_nothing_new(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    ticket = builds.ticket_for(platform, submission_id, 1)
    assert ticket is not None

    progress = RecordedProgress()
    assert builder.build(ticket, progress) is None  # the create is a 409: already started
    assert progress.jobs == [names(submission_id)[0]]  # the same Job, reported again
    assert build_queue.run_queue(platform).started == 0  # and the queue has nothing pending

    assert list(cluster.jobs()) == [names(submission_id)[0]]
    assert row(platform, submission_id).status == "building"


def test_a_rebuild_is_a_new_attempt_with_a_new_job(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    first = names(submission_id)[0]
    broken = cluster.finish_job(first, ok=False, log=f"pip: no\n{REQUIREMENTS_FAILED_MARKER}\n")
    build_queue.handle_job_event(platform, broken)
    assert row(platform, submission_id).status == "failed"

    submissions.rebuild(platform, uuid.UUID(owner.id), submission_id)
    build_queue.run_queue(platform)

    second = names(submission_id, attempt=2)[0]
    assert set(cluster.jobs()) == {first, second}
    assert row(platform, submission_id).build_job_name == second


# --- the Job events ------------------------------------------------------------------------------


def test_a_built_image_is_validated_and_becomes_the_active_version(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str, api: ApiClient
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, validate_name = names(submission_id)

    build_queue.handle_job_event(platform, cluster.finish_job(build_name, ok=True, log="INFO Pushed image\n"))

    validation = cluster.jobs()[validate_name]
    image = f"{REGISTRY}/{agent_id}:{submission_id}-v1"
    probe = validation["spec"]["template"]["spec"]["containers"][0]
    assert (probe["image"], probe["args"]) == (image, ["rlarena.agent_runtime.probe", "/agent", "agent.py"])
    assert validation["metadata"]["labels"]["rlarena.dev/role"] == "validate"
    assert_untrusted_pod(validation["spec"]["template"]["spec"], ["probe"], max_processes=256)
    assert row(platform, submission_id).status == "validating"

    log = "loading...\n" + REPORT_OK + "\n"
    build_queue.handle_job_event(platform, cluster.finish_job(validate_name, ok=True, log=log))

    done = row(platform, submission_id)
    assert (done.status, done.is_active, done.docker_image_url) == ("active", True, image)
    assert done.build_log is not None
    assert "agent interface: function (agent)" in done.build_log and "INFO Pushed image" in done.build_log
    (succeeded,) = published(platform, "build.succeeded")
    assert (succeeded["submissionId"], succeeded["imageUrl"]) == (str(submission_id), image)
    assert api.get(f"/api/v1/agents/{agent_id}").json["agent"]["activeSubmissionId"] == str(submission_id)


@pytest.mark.parametrize(
    "settings_overrides", [{"MATCH_RUNTIME_CLASS": "gvisor", "MATCH_USER_NAMESPACES": True}], indirect=True
)
def test_the_validation_pod_runs_under_the_runtime_class_and_in_user_namespaces_when_set(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, validate_name = names(submission_id)
    build = cluster.jobs()[build_name]["spec"]["template"]["spec"]
    assert "runtimeClassName" not in build and "hostUsers" not in build  # Kaniko's own Pod is unchanged

    build_queue.handle_job_event(platform, cluster.finish_job(build_name, ok=True, log="INFO Pushed image\n"))

    validation = cluster.jobs()[validate_name]
    document = {key: value for key, value in validation.items() if key != "status"}
    kubernetes_validate.validate(document, "1.33.0", strict=True)
    pod = validation["spec"]["template"]["spec"]
    assert_untrusted_pod(pod, ["probe"], max_processes=256, runtime_class="gvisor", user_namespaces=True)
    build_queue.handle_job_event(platform, cluster.finish_job(validate_name, ok=True, log=REPORT_OK + "\n"))
    assert row(platform, submission_id).status == "active"


def test_a_build_that_cannot_install_its_requirements_fails_with_the_reason(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id, {"agent.py": AGENT, "requirements.txt": b"nosuchpkg==9\n"})
    build_queue.run_queue(platform)
    log = "ERROR: No matching distribution found for nosuchpkg==9\n" + REQUIREMENTS_FAILED_MARKER + "\n"

    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[0], ok=False, log=log))

    failed = row(platform, submission_id)
    assert failed.status == "failed"
    assert failed.error_message is not None and "requirements.txt" in failed.error_message
    assert failed.build_log is not None and "No matching distribution found for nosuchpkg" in failed.build_log
    (event,) = published(platform, "build.failed")
    assert event["errorMessage"] == failed.error_message
    assert names(submission_id)[1] not in cluster.jobs()  # nothing to validate


def test_requirements_that_reach_outside_the_package_index_fail_before_any_job(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    requirements = b"--extra-index-url http://10.0.0.1/simple\nnumpy\n"
    submission_id = submit(platform, owner, agent_id, {"agent.py": AGENT, "requirements.txt": requirements})

    assert build_queue.run_queue(platform).finished == 1

    failed = row(platform, submission_id)
    assert failed.status == "failed"
    assert failed.error_message is not None and "--extra-index-url" in failed.error_message
    assert cluster.jobs() == {}


def test_a_build_past_its_deadline_or_out_of_memory_fails_saying_so(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    slow = submit(platform, owner, agent_id)
    greedy = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)

    build_queue.handle_job_event(platform, cluster.finish_job(names(slow)[0], ok=False, reason="DeadlineExceeded"))
    build_name, validate_name = names(greedy, version=2)
    build_queue.handle_job_event(platform, cluster.finish_job(build_name, ok=True))
    oom = cluster.finish_job(validate_name, ok=False, exit_code=137, reason="OOMKilled", log="")
    build_queue.handle_job_event(platform, oom)

    assert "took longer than" in (row(platform, slow).error_message or "")
    assert row(platform, greedy).error_message == "the agent used more than 1Gi of memory while loading"
    assert (row(platform, slow).infra_failures, row(platform, greedy).infra_failures) == (0, 0)


def test_an_agent_that_fails_to_load_fails_with_its_error_and_traceback(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, validate_name = names(submission_id)
    build_queue.handle_job_event(platform, cluster.finish_job(build_name, ok=True))
    report = {
        "ok": False,
        "error": "agent.py raised RuntimeError: boom",
        "traceback": "Traceback...\nRuntimeError: boom",
    }

    build_queue.handle_job_event(platform, cluster.finish_job(validate_name, ok=False, log=json.dumps(report)))

    failed = row(platform, submission_id)
    assert (failed.status, failed.error_message) == ("failed", "agent.py raised RuntimeError: boom")
    assert failed.build_log is not None and "RuntimeError: boom" in failed.build_log


def test_an_unreadable_probe_log_is_said_in_the_build_log_not_a_crash(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, validate_name = names(submission_id)
    build_queue.handle_job_event(platform, cluster.finish_job(build_name, ok=True, log=None))

    build_queue.handle_job_event(platform, cluster.finish_job(validate_name, ok=True, log=None))

    done = row(platform, submission_id)
    assert done.status == "active"
    assert done.build_log is not None
    assert "its log could not be read" in done.build_log
    assert "Kaniko output: not available" in done.build_log


def test_duplicate_and_out_of_order_job_events_change_nothing(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, validate_name = names(submission_id)
    running = cluster.job(build_name)
    built = cluster.finish_job(build_name, ok=True)

    for event in (running, built, built, running):  # progress, the end twice, then a stale update
        build_queue.handle_job_event(platform, event)
    assert set(cluster.jobs()) == {build_name, validate_name}
    assert row(platform, submission_id).status == "validating"

    validated = cluster.finish_job(validate_name, ok=True, log=REPORT_OK)
    for event in (validated, built, validated, running):
        build_queue.handle_job_event(platform, event)

    assert row(platform, submission_id).status == "active"
    assert len(published(platform, "build.succeeded")) == 1
    assert set(cluster.jobs()) == {build_name, validate_name}
    assert [t.status for t in submissions.transitions_of(platform, uuid.UUID(owner.id), submission_id)] == [
        "pending",
        "building",
        "validating",
        "active",
    ]


def test_events_about_other_jobs_are_ignored(platform: Platform, builder: KanikoBuilder, cluster: Cluster) -> None:
    foreign = {"metadata": {"name": "nightly-backup", "labels": {"app": "backup"}}, "status": {}}
    unknown = {
        "metadata": {
            "name": "build-x",
            "labels": {
                "app.kubernetes.io/part-of": "rlarena",
                "rlarena.dev/role": "build",
                "rlarena.dev/submission": str(uuid.uuid4()),
                "rlarena.dev/attempt": "1",
            },
        },
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }
    build_queue.handle_job_event(platform, foreign)
    build_queue.handle_job_event(platform, unknown)  # a submission that does not exist (any more)
    assert cluster.jobs() == {}


def test_the_reconciler_catches_jobs_whose_events_were_missed(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, validate_name = names(submission_id)
    cluster.finish_job(build_name, ok=True)  # no event delivered

    assert build_jobs.reconcile_jobs(platform) == 0  # validation started; the attempt goes on
    assert validate_name in cluster.jobs()
    assert row(platform, submission_id).status == "validating"

    cluster.finish_job(validate_name, ok=True, log=REPORT_OK)  # no event again
    build_queue.run_queue(platform)  # the next wake-up of the queue reconciles first

    assert row(platform, submission_id).status == "active"
    assert build_jobs.reconcile_jobs(platform) == 0  # and a second pass changes nothing


def test_a_finished_build_frees_its_slot_for_the_next_pending_build(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    platform.settings.build_concurrency = 1
    first = submit(platform, owner, agent_id)
    second = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    assert (row(platform, first).status, row(platform, second).status) == ("building", "pending")

    build_and_validate(cluster, platform, first)

    assert row(platform, first).status == "active"
    assert row(platform, second).status == "building"  # started by the event that ended the first
    assert names(second, version=2)[0] in cluster.jobs()


def test_a_redelivered_end_event_wakes_the_queue_again_if_the_first_wake_up_failed(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    platform.settings.build_concurrency = 1
    first = submit(platform, owner, agent_id)
    second = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_queue.handle_job_event(platform, cluster.finish_job(names(first)[0], ok=True))
    validated = cluster.finish_job(names(first)[1], ok=True, log=REPORT_OK)
    cluster.fail_requests("post", JOBS)  # the wake-up's create for the next build fails...

    with pytest.raises(EventRetry):
        build_queue.handle_job_event(platform, validated)
    assert (row(platform, first).status, row(platform, second).status) == ("active", "pending")

    build_queue.handle_job_event(platform, validated)  # ...so the broker redelivers the event
    assert row(platform, second).status == "pending"  # backing off after the infrastructure failure

    platform.clock = later(platform, builds.infrastructure_backoff(1))
    build_queue.handle_job_event(platform, validated)  # a redelivery after the backoff starts it

    assert row(platform, second).status == "building"


# --- the platform's failures ---------------------------------------------------------------------


def test_an_unreachable_api_server_requeues_the_build_instead_of_failing_it(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    cluster.fail_requests("post", JOBS)

    with pytest.raises(EventRetry):
        build_queue.run_queue(platform)

    requeued = row(platform, submission_id)
    assert (requeued.status, requeued.infra_failures, requeued.error_message) == ("pending", 1, None)

    assert requeued.build_not_before is not None  # it waits out a backoff before the next try
    assert build_queue.run_queue(platform).started == 0  # not before then
    cluster.stop()  # now the API server is gone altogether
    platform.clock = later(platform, builds.infrastructure_backoff(1))
    with pytest.raises(EventRetry):
        build_queue.run_queue(platform)
    assert (row(platform, submission_id).status, row(platform, submission_id).infra_failures) == ("pending", 2)


def test_a_create_that_failed_after_the_job_was_made_resumes_with_that_job(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    cluster.fail_requests("post", JOBS)  # the emulator keeps the Job, as a server that fails late may
    with pytest.raises(EventRetry):
        build_queue.run_queue(platform)

    platform.clock = later(platform, builds.infrastructure_backoff(1))
    build_queue.run_queue(platform)  # the retry's create is a 409: that Job is this attempt's

    assert row(platform, submission_id).status == "building"
    build_and_validate(cluster, platform, submission_id)
    assert row(platform, submission_id).status == "active"


def test_a_job_whose_pods_cannot_be_listed_is_concluded_later_not_guessed(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, validate_name = names(submission_id)
    build_queue.handle_job_event(platform, cluster.finish_job(build_name, ok=True))
    report = {"ok": False, "error": "no agent function", "traceback": ""}
    failed = cluster.finish_job(validate_name, ok=False, log=json.dumps(report))
    cluster.fail_requests("get", PODS)

    with pytest.raises(EventRetry):
        build_queue.handle_job_event(platform, failed)
    assert (row(platform, submission_id).status, row(platform, submission_id).infra_failures) == ("validating", 0)

    build_queue.handle_job_event(platform, failed)  # redelivered

    assert (row(platform, submission_id).status, row(platform, submission_id).error_message) == (
        "failed",
        "no agent function",
    )


def test_a_validation_pod_that_never_ran_requeues_the_attempt_with_fresh_jobs(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, validate_name = names(submission_id)
    build_queue.handle_job_event(platform, cluster.finish_job(build_name, ok=True))

    pulled = cluster.finish_job(validate_name, ok=False, log=None, reason="ImagePullBackOff")
    build_queue.handle_job_event(platform, pulled)

    # Discarded, queued again after a backoff, and then started afresh as the same attempt.
    assert (row(platform, submission_id).status, row(platform, submission_id).infra_failures) == ("pending", 1)
    platform.clock = later(platform, builds.infrastructure_backoff(1))
    build_queue.run_queue(platform)
    retried = row(platform, submission_id)
    assert (retried.status, retried.infra_failures, retried.build_attempt) == ("building", 1, 1)
    assert list(cluster.jobs()) == [build_name]
    assert cluster.jobs()[build_name].get("status") in (None, {})  # the new Job, not the old one
    build_queue.handle_job_event(platform, pulled)  # the old Job's late duplicate: gone, so ignored
    assert row(platform, submission_id).infra_failures == 1


def test_a_kaniko_failure_that_is_not_the_users_requeues(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    log = "error pushing image: failed to push to destination registry.test: 503 Service Unavailable\n"

    build_queue.handle_job_event(platform, cluster.finish_job(names(submission_id)[0], ok=False, log=log))
    assert row(platform, submission_id).status == "pending"  # queued again, backing off
    platform.clock = later(platform, builds.infrastructure_backoff(1))
    build_queue.run_queue(platform)

    retried = row(platform, submission_id)
    assert (retried.status, retried.infra_failures, retried.error_message) == ("building", 1, None)
    assert published(platform, "build.failed") == []


# --- the CloudEvent target ------------------------------------------------------------------------


def test_the_builder_jobs_target_takes_apiserver_events(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    built = cluster.finish_job(names(submission_id)[0], ok=True)
    client = create_app("builder_on_job_event", str(ROOT / "functions" / "submissions" / "main.py")).test_client()  # type: ignore[no-untyped-call]
    headers = {
        "ce-specversion": "1.0",
        "ce-id": str(uuid.uuid4()),
        "ce-source": "https://10.96.0.1:443",
        "ce-type": "dev.knative.apiserver.resource.update",
        "ce-subject": f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{names(submission_id)[0]}",
        "ce-rlarenawatch": "build-jobs",
        "Content-Type": "application/json",
    }

    response = client.post("/", data=json.dumps(built), headers=headers)

    assert response.status_code == 200, response.data
    assert row(platform, submission_id).status == "validating"
    wrong = client.post("/", data=json.dumps(built), headers={**headers, "ce-type": "dev.rlarena.build.started"})
    assert wrong.status_code == 400
    not_a_job = client.post("/", data=json.dumps({"kind": "Pod"}), headers={**headers, "ce-id": "x"})
    assert not_a_job.status_code == 400


# --- the build Pod ----------------------------------------------------------------------------------


def test_the_build_pods_name_is_recorded_while_it_runs_and_shown_in_build_status(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str, api: ApiClient
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, _ = names(submission_id)
    build_queue.handle_job_event(platform, cluster.job(build_name))  # created: no Pod yet, nothing to record
    assert row(platform, submission_id).build_pod_name is None

    pod_name = cluster.add_pod(build_name, {"running": {"startedAt": "2026-01-01T00:00:00Z"}}, log="")
    cluster.batch.patch_namespaced_job_status(build_name, NAMESPACE, {"status": {"active": 1}})
    build_queue.handle_job_event(platform, cluster.job(build_name))

    assert row(platform, submission_id).build_pod_name == pod_name
    status = api.get(f"/api/v1/submissions/{submission_id}/build-status", headers=owner.headers).json
    assert (status["buildJobName"], status["buildPodName"]) == (build_name, pod_name)


def test_a_missed_running_event_is_made_up_for_when_the_build_ends_and_a_rebuild_forgets_the_old_pod(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    submission_id = submit(platform, owner, agent_id)
    build_queue.run_queue(platform)
    build_name, _ = names(submission_id)
    broken = cluster.finish_job(build_name, ok=False, log=f"{REQUIREMENTS_FAILED_MARKER}\n")
    build_queue.handle_job_event(platform, broken)
    first_pod = row(platform, submission_id).build_pod_name
    assert first_pod is not None and first_pod.startswith(build_name[:50])

    submissions.rebuild(platform, uuid.UUID(owner.id), submission_id)
    build_queue.run_queue(platform)

    rebuilt = row(platform, submission_id)
    assert (rebuilt.build_job_name, rebuilt.build_pod_name) == (names(submission_id, attempt=2)[0], None)


# --- code written for another game ----------------------------------------------------------------


def test_a_direct_upload_declaring_another_game_fails_before_any_job(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    # (Multipart and codeUrl uploads are refused at intake: test_build_environment.py.)
    code = b'ENVIRONMENT = "tic-tac-toe"\n\ndef agent(observation, configuration):\n    return 4\n'
    submission_id = submit_direct(platform, owner, agent_id, {"agent.py": code})

    assert build_queue.run_queue(platform).finished == 1

    failed = row(platform, submission_id)
    assert failed.status == "failed"
    assert failed.error_message is not None
    assert "agent.py declares ENVIRONMENT = 'tic-tac-toe', but this agent plays Pong (pong)" in failed.error_message
    assert "0 up, 1 stay, 2 down" in failed.error_message
    assert cluster.jobs() == {}


def test_a_game_declared_at_run_time_is_checked_from_the_probes_report(
    platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str
) -> None:
    code = b"from settings import ENVIRONMENT\n\ndef agent(observation, configuration):\n    return 1\n"
    submission_id = submit(platform, owner, agent_id, {"agent.py": code, "settings.py": b'ENVIRONMENT = "chess"\n'})
    build_queue.run_queue(platform)
    build_name, validate_name = names(submission_id)
    build_queue.handle_job_event(platform, cluster.finish_job(build_name, ok=True))
    report = json.loads(REPORT_OK) | {"environment": "chess"}

    build_queue.handle_job_event(platform, cluster.finish_job(validate_name, ok=True, log=json.dumps(report)))

    failed = row(platform, submission_id)
    assert failed.status == "failed"
    assert failed.error_message is not None and "declares ENVIRONMENT = 'chess'" in failed.error_message
    assert "create a chess agent for this code" in failed.error_message
