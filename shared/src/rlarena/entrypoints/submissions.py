"""The submissions function: /api/v1/submissions*, the storage webhook bridge, and its events."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import flask
from cloudevents.http import CloudEvent
from werkzeug.exceptions import RequestEntityTooLarge

from rlarena import runtime
from rlarena.adapters.storage.minio_events import check_bearer, parse_notification
from rlarena.entrypoints.views import submission_view, transition_view
from rlarena.errors import EventRejected, InvalidInput, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType
from rlarena.events.catalogue import (
    EventType,
    Source,
    StorageObjectCreated,
    SubmissionUploaded,
    make_event,
    parse_payload,
)
from rlarena.events.targets import expect_type
from rlarena.http.api import Context, HttpApi, Reply, parse_uuid, read_at_most, read_body
from rlarena.http.health import add_health
from rlarena.http.operation import Content, schemas
from rlarena.http.schemas.params import AGENT_ID, BINARY, SUBMISSION_ID, UPLOAD_FORM
from rlarena.http.self_description import add_openapi
from rlarena.service import submissions
from rlarena.service.commands import RequestUploadUrl, SubmitCodeUrl

api = HttpApi("submissions", runtime.platform)
add_health(api)
add_openapi(api)

MULTIPART_OVERHEAD = 64 * 1024

model = schemas("submissions")


@api.route(
    "/api/v1/submissions",
    "POST",
    summary="Submit an agent's code",
    description="A new version of an agent's code, built and validated before it plays: a multipart upload "
    "(agentId and file: a .py, .zip or .tar.gz) or JSON with a codeUrl to fetch. Limited per agent per day "
    "(SUBMISSIONS_PER_AGENT_PER_DAY) and per minute.",
    tags=("submissions",),
    auth="bearer",
    body=Content({"multipart/form-data": UPLOAD_FORM, "application/json": SubmitCodeUrl}),
    responses={201: model("SubmissionReply")},
    errors=(403, 404, 409),
    rate_limited=True,
)
def create_submission(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    if ctx.request.mimetype == "multipart/form-data":
        agent_id, filename, data = _multipart_upload(ctx)
        view = submissions.submit_upload(ctx.platform, user_id, agent_id, filename, data)
    elif ctx.request.mimetype in ("application/json", ""):
        command = ctx.body(SubmitCodeUrl)
        agent_id = parse_uuid(command.agent_id, "agentId")
        view = submissions.submit_from_url(ctx.platform, user_id, agent_id, command.code_url)
    else:
        raise UnsupportedMediaType(
            "send multipart/form-data with agentId and file, or application/json with agentId and codeUrl"
        )
    return Reply({"submission": submission_view(view.submission, view.agent)}, 201)


def _multipart_upload(ctx: Context) -> tuple[uuid.UUID, str, bytes]:
    limit = ctx.platform.settings.archive_max_bytes
    ctx.request.max_content_length = limit + MULTIPART_OVERHEAD
    try:
        form, files = ctx.request.form, ctx.request.files
    except RequestEntityTooLarge:
        raise PayloadTooLarge(f"the upload is larger than {limit} bytes", code="archive_too_large") from None
    agent_field = form.get("agentId", "")
    if not agent_field:
        raise InvalidInput("the form needs an agentId field", details=[{"field": "agentId", "message": "required"}])
    upload = files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(
            "the form needs a file field with the agent's code", details=[{"field": "file", "message": "required"}]
        )
    data = read_at_most(upload.stream, limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the upload is larger than {limit} bytes", code="archive_too_large")
    return parse_uuid(agent_field, "agentId"), upload.filename, data


@api.route(
    "/api/v1/submissions/upload-url",
    "POST",
    summary="A presigned upload URL",
    description="Books a submission and answers where to PUT the archive (straight to storage, or to "
    "PUT /api/v1/submissions/{submissionId}/upload on the local platform) before the URL expires.",
    tags=("submissions",),
    auth="bearer",
    body=RequestUploadUrl,
    responses={201: model("UploadTicket")},
    errors=(403, 404, 409),
    rate_limited=True,
)
def upload_url(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    command = ctx.body(RequestUploadUrl)
    ticket = submissions.request_upload_url(
        ctx.platform, user_id, parse_uuid(command.agent_id, "agentId"), command.filename
    )
    return Reply(
        {
            "submission": submission_view(ticket.view.submission, ticket.view.agent),
            "uploadUrl": ticket.url,
            "method": ticket.method,
            "headers": ticket.headers,
            "expiresAt": ticket.expires_at.isoformat().replace("+00:00", "Z"),
        },
        201,
    )


@api.route(
    "/api/v1/submissions/<submissionId>/upload",
    "PUT",
    summary="Upload a booked submission's archive",
    description="The body is the archive itself (the upload URL of the local platform).",
    tags=("submissions",),
    auth="bearer",
    params={"submissionId": SUBMISSION_ID},
    body=Content({"application/octet-stream": BINARY}),
    responses={202: model("UploadReceived")},
    errors=(403, 404, 409),
    rate_limited=True,
)
def direct_upload(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    submission_id = ctx.path_uuid("submissionId")
    data = read_body(ctx.request, ctx.platform.settings.archive_max_bytes)
    submissions.receive_direct_upload(ctx.platform, user_id, submission_id, data)
    return Reply({"submissionId": str(submission_id), "status": "uploaded"}, 202)


@api.route(
    "/api/v1/submissions/<submissionId>",
    "GET",
    summary="One submission",
    description="One of the caller's submissions and how far its build got.",
    tags=("submissions",),
    auth="bearer",
    params={"submissionId": SUBMISSION_ID},
    responses={200: model("SubmissionReply")},
    errors=(403, 404),
)
def get_submission(ctx: Context) -> Reply:
    view = submissions.get_submission(ctx.platform, ctx.user_id(), ctx.path_uuid("submissionId"))
    return Reply({"submission": submission_view(view.submission, view.agent)})


@api.route(
    "/api/v1/submissions/agent/<agentId>",
    "GET",
    summary="An agent's submissions",
    description="Every version of one of the caller's agents, newest first.",
    tags=("submissions",),
    auth="bearer",
    params={"agentId": AGENT_ID},
    responses={200: model("SubmissionList")},
    errors=(403, 404),
)
def list_submissions(ctx: Context) -> Reply:
    views = submissions.submissions_of(ctx.platform, ctx.user_id(), ctx.path_uuid("agentId"))
    return Reply({"submissions": [submission_view(v.submission, v.agent) for v in views], "total": len(views)})


@api.route(
    "/api/v1/submissions/<submissionId>/activate",
    "PUT",
    summary="Play with this version",
    description="Makes a built submission the one its agent plays with.",
    tags=("submissions",),
    auth="bearer",
    params={"submissionId": SUBMISSION_ID},
    responses={200: model("SubmissionMessage")},
    errors=(403, 404, 409),
)
def activate(ctx: Context) -> Reply:
    view = submissions.activate(ctx.platform, ctx.user_id(), ctx.path_uuid("submissionId"))
    return Reply({"submission": submission_view(view.submission, view.agent), "message": "submission activated"})


@api.route(
    "/api/v1/submissions/<submissionId>/build-status",
    "GET",
    summary="A submission's build status",
    description="Where the build is, what failed, the scan's findings and every status it went through.",
    tags=("submissions",),
    auth="bearer",
    params={"submissionId": SUBMISSION_ID},
    responses={200: model("BuildStatus")},
    errors=(403, 404),
)
def build_status(ctx: Context) -> Reply:
    user_id, submission_id = ctx.user_id(), ctx.path_uuid("submissionId")
    view = submissions.get_submission(ctx.platform, user_id, submission_id)
    history = submissions.transitions_of(ctx.platform, user_id, submission_id)
    submission = view.submission
    body = submission_view(submission, view.agent)
    return Reply(
        {
            "submissionId": body["id"],
            "status": submission.status,
            "createdAt": body["createdAt"],
            "updatedAt": body["updatedAt"],
            "buildJobName": submission.build_job_name,
            "buildPodName": submission.build_pod_name,
            "dockerImageUrl": submission.docker_image_url,
            "errorMessage": submission.error_message,
            "vulnerabilities": submission.vulnerabilities,
            "retryCount": submission.retry_count,
            "history": [transition_view(t) for t in history],
        }
    )


@api.route(
    "/api/v1/submissions/<submissionId>/build-logs",
    "GET",
    summary="A submission's build log",
    description="The build's log (empty until there is one).",
    tags=("submissions",),
    auth="bearer",
    params={"submissionId": SUBMISSION_ID},
    responses={200: model("BuildLogs")},
    errors=(403, 404),
)
def build_logs(ctx: Context) -> Reply:
    view = submissions.get_submission(ctx.platform, ctx.user_id(), ctx.path_uuid("submissionId"))
    body = submission_view(view.submission, view.agent)
    return Reply(
        {
            "submissionId": body["id"],
            "status": body["status"],
            "buildLog": body["buildLog"] or "",
            "updatedAt": body["updatedAt"],
        }
    )


@api.route(
    "/api/v1/submissions/<submissionId>/rebuild",
    "POST",
    summary="Build a failed submission again",
    description="Queues a failed build again, up to MAX_REBUILDS times.",
    tags=("submissions",),
    auth="bearer",
    params={"submissionId": SUBMISSION_ID},
    responses={202: model("SubmissionMessage")},
    errors=(403, 404, 409),
)
def rebuild(ctx: Context) -> Reply:
    view = submissions.rebuild(ctx.platform, ctx.user_id(), ctx.path_uuid("submissionId"))
    return Reply({"submission": submission_view(view.submission, view.agent), "message": "rebuild queued"}, 202)


@api.route(
    "/api/v1/submissions/<submissionId>/code",
    "GET",
    summary="Download a submission's code",
    description="The uploaded file as it arrived (owners only).",
    tags=("submissions",),
    auth="bearer",
    params={"submissionId": SUBMISSION_ID},
    responses={200: Content({"application/octet-stream": BINARY}, "The uploaded file, as an attachment")},
    errors=(403, 404),
)
def download_code(ctx: Context) -> flask.Response:
    view, data = submissions.source_of(ctx.platform, ctx.user_id(), ctx.path_uuid("submissionId"))
    name = f"{view.agent.name}-v{view.submission.version}-{view.submission.source_filename or 'source'}"
    return flask.Response(data, mimetype="application/octet-stream", headers={"Content-Disposition": attachment(name)})


def attachment(name: str) -> str:
    """Content-Disposition for a download named `name`: headers are Latin-1, so `filename` keeps
    ASCII letters, digits and ._- only, and `filename*` (RFC 6266) carries the name in UTF-8."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)[:200]
    return f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(name[:200], safe='')}"


@api.route(
    "/internal/storage-events",
    "POST",
    summary="Storage bucket notifications",
    description="MinIO's bucket-notification webhook (not routed by the gateway): one CloudEvent per created "
    "object; the bearer token is STORAGE_WEBHOOK_TOKEN; 5xx so that MinIO retries.",
    tags=("internal",),
    auth="bearer",
    body=Content({"application/json": {"type": "object"}}),
    responses={202: model("StorageEventsAccepted")},
    errors=(503,),
    database=False,
    internal=True,
)
def storage_webhook(ctx: Context) -> Reply:
    """MinIO's bucket-notification webhook: one CloudEvent per created object, 5xx so MinIO retries."""
    settings = ctx.platform.settings
    if settings.storage_webhook_token is None:
        raise ServiceUnavailable("the storage webhook is not configured (STORAGE_WEBHOOK_TOKEN)")
    check_bearer(ctx.request.headers.get("Authorization"), settings.storage_webhook_token.get_secret_value())
    records = parse_notification(read_body(ctx.request, settings.max_body_bytes))
    for record in records:
        payload = StorageObjectCreated(
            bucket=record.bucket, key=record.key, size=record.size, etag=record.etag, content_type=record.content_type
        )
        event_id = f"stored-{record.key}-{record.etag}"
        ctx.platform.publisher.publish(
            make_event(EventType.STORAGE_OBJECT_CREATED, Source.STORAGE, payload, event_id=event_id)
        )
    return Reply({"accepted": len(records)}, 202)


def on_object_stored(event: CloudEvent) -> None:
    """Trigger `submissions-storage`: a presigned upload arrived; check it and queue its build."""
    expect_type(event, EventType.STORAGE_OBJECT_CREATED)
    stored = parse_payload(event, StorageObjectCreated)
    platform = runtime.platform()
    if stored.bucket == platform.settings.s3_bucket and stored.key.startswith("submissions/"):
        submissions.accept_stored_object(platform, stored.key, stored.size)


def on_submission_uploaded(event: CloudEvent) -> None:
    """Trigger `builder`: wake the build queue (the event says there is work, the table says what)."""
    expect_type(event, EventType.SUBMISSION_UPLOADED)
    parse_payload(event, SubmissionUploaded)
    from rlarena.service import build_queue  # the builder's alone: off the HTTP target's cold start

    build_queue.run_queue(runtime.platform())


def on_job_event(event: CloudEvent) -> None:
    """Trigger `builder-jobs`: a build, validation or scan Job changed (ApiServerSource, mode Resource);
    or Trigger `builder-jobs-tick`: the PingSource's tick catches up on missed Job events and queued builds
    and seeds the house agents."""
    from rlarena.service import build_queue, house_agents  # the builder's alone: off the HTTP target's cold start

    if event["type"] == EventType.PING.value:
        platform = runtime.platform()
        submissions.settle_bookings(platform)  # uploads that arrived unannounced, bookings expired unused
        house_agents.seed(platform)  # the shipped house agents on every ladder (or off it: HOUSE_AGENTS)
        build_queue.catch_up(platform)
        platform.outbox.publish_due()  # events whose publication after their commit failed
        return
    expect_type(event, EventType.APISERVER_UPDATE)
    data = event.get_data()
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError:
            raise EventRejected("the event's data is not JSON") from None
    if not isinstance(data, dict) or data.get("kind", "Job") != "Job":
        raise EventRejected("the event's data is not a Job object (is the ApiServerSource in mode Resource?)")
    build_queue.handle_job_event(runtime.platform(), data)
