"""The dead-letter sink: every Trigger ends there, and it logs what failed without the payload."""

from __future__ import annotations

import base64
import logging

import pytest
from cloudevents.http import CloudEvent

from rlarena.entrypoints.dead_letters import on_dead_letter
from rlarena.platform.manifests import load_documents, triggers
from tests.conftest import ROOT


def test_every_trigger_sends_what_it_cannot_deliver_to_the_dead_letter_service() -> None:
    documents = load_documents(ROOT / "knative")
    found = triggers(documents)
    assert len(found) >= 10
    assert {trigger.name: trigger.dead_letter for trigger in found} == {t.name: "dead-letters" for t in found}
    services = {d["metadata"]["name"] for d in documents if d.get("kind") == "Service"}
    assert "dead-letters" in services


def test_a_dead_letter_is_one_error_line_naming_the_event_and_the_failure(caplog: pytest.LogCaptureFixture) -> None:
    event = CloudEvent(
        {
            "type": "dev.rlarena.match.finished",
            "source": "/rlarena/executor",
            "id": "match-finished-42",
            "knativeerrordest": "http://ratings.rlarena.svc.cluster.local",
            "knativeerrorcode": "500",
            "knativeerrordata": base64.b64encode(b'{"error": "the database is unavailable"}').decode(),
        },
        {"matchId": "42", "secretish": "user data stays out of logs"},
    )
    with caplog.at_level(logging.ERROR, logger="rlarena.dead_letters"):
        on_dead_letter(event)
    (record,) = caplog.records
    line = record.getMessage()
    for expected in (
        "dev.rlarena.match.finished",
        "match-finished-42",
        "ratings.rlarena",
        "500",
        "database is unavailable",
    ):
        assert expected in line
    assert "user data" not in line


def test_undecodable_error_data_is_shown_as_sent(caplog: pytest.LogCaptureFixture) -> None:
    event = CloudEvent({"type": "t", "source": "/s", "knativeerrordata": "not base64!"}, None)
    with caplog.at_level(logging.ERROR, logger="rlarena.dead_letters"):
        on_dead_letter(event)
    assert "not base64!" in caplog.records[0].getMessage()
