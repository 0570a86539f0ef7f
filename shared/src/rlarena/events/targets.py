"""Glue between CloudEvent handlers and functions-framework's cloud_event targets.

A handler raises EventRejected for an event it can never process: the target answers 4xx and the
broker does not redeliver. Any other failure answers 5xx and the broker retries with backoff.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from cloudevents.http import CloudEvent
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from rlarena.errors import EventRejected, RLArenaError, error_body, http_status
from rlarena.events.catalogue import EventType

log = logging.getLogger(__name__)

EventHandler = Callable[[CloudEvent], None]


def expect_type(event: CloudEvent, expected: EventType) -> None:
    if event["type"] != expected.value:
        raise EventRejected(f"this target consumes {expected.value}, not {event['type']}")


def serve(handler: EventHandler, event: CloudEvent) -> None:
    """Run `handler` for functions-framework, turning platform errors into HTTP statuses."""
    try:
        handler(event)
    except RLArenaError as error:
        status = http_status(error)
        log.warning("event %s %s: %s (%d)", event["type"], event["id"], error.message, status)
        body = json.dumps(error_body(error))
        raise HTTPException(response=Response(body, status=status, mimetype="application/json")) from None
