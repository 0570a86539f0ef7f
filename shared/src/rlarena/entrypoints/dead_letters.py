"""The dead-letter sink (Knative Service `dead-letters`): events every retry failed to deliver.

Knative sends such an event here with `knaterrordest` (the subscriber that kept failing),
`knativeerrorcode` (its last HTTP status) and `knativeerrordata` (the start of its last answer).
Each one becomes a single ERROR log line an operator can alert on, naming the event (type, source,
id, subject) and the failure; the payload is left out, as user data never goes to logs. The
delivery can then be replayed from the broker's source of truth (the database), since every
consumer is idempotent. The local platform keeps the same facts in DATA_DIR/dead-letters.jsonl.
"""

from __future__ import annotations

import base64
import binascii
import logging

from cloudevents.http import CloudEvent

log = logging.getLogger("rlarena.dead_letters")

ERROR_DATA_LIMIT = 500


def on_dead_letter(event: CloudEvent) -> None:
    attributes = event.get_attributes()
    log.error(
        "dead letter: %s %s from %s (subject %s) was not delivered to %s: last status %s, answer %r",
        attributes.get("type"),
        attributes.get("id"),
        attributes.get("source"),
        attributes.get("subject", "-"),
        attributes.get("knativeerrordest", "an unknown subscriber"),
        attributes.get("knativeerrorcode", "unknown"),
        error_data(attributes.get("knativeerrordata")),
    )


def error_data(encoded: object) -> str:
    """The subscriber's last answer (Knative sends it base64-encoded), shortened."""
    if not isinstance(encoded, str) or not encoded:
        return ""
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        text = encoded
    return text[:ERROR_DATA_LIMIT]
