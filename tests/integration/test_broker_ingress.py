"""The local platform's broker ingress handler: refusals come before the body is read and publish nothing."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

from rlarena.platform.local import BROKER_INGRESS_PATH, LocalPlatform, build
from tests.conftest import make_settings


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[LocalPlatform, list[CloudEvent]]]:
    platform = build(make_settings(tmp_path / "data", LOCAL_EXECUTOR=False))
    published: list[CloudEvent] = []
    platform.broker.publish = published.append  # type: ignore[assignment]
    yield platform, published
    platform.stop()


def forged() -> CloudEvent:
    return CloudEvent(
        {"type": "dev.rlarena.match.finished", "source": "/rlarena/executor"},
        {"matchId": "00000000-0000-0000-0000-000000000001", "environmentId": "chess", "winnerId": None},
    )


def test_the_token_is_generated_into_the_data_dir_and_is_the_one_the_ingress_wants(
    local: tuple[LocalPlatform, list[CloudEvent]],
) -> None:
    platform, _ = local
    path = platform.platform.settings.data_dir / "broker-token"
    assert path.read_text() == platform.ingress_token
    assert len(platform.ingress_token) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_events_without_the_token_get_401_with_a_wrong_one_403_and_nothing_is_published(
    local: tuple[LocalPlatform, list[CloudEvent]], mode: str
) -> None:
    platform, published = local
    client = platform.gateway().test_client()
    headers, body = (to_binary if mode == "binary" else to_structured)(forged())

    missing = client.post(BROKER_INGRESS_PATH, data=body, headers=headers)
    assert missing.status_code == 401
    assert missing.json is not None
    assert set(missing.json) == {"error", "code"}
    assert missing.json["code"] == "missing_broker_token"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")

    wrong = client.post(BROKER_INGRESS_PATH, data=body, headers={**headers, "Authorization": "Bearer " + "0" * 64})
    assert (wrong.status_code, (wrong.json or {}).get("code")) == (403, "invalid_broker_token")
    assert published == []

    right = client.post(
        BROKER_INGRESS_PATH, data=body, headers={**headers, "Authorization": f"Bearer {platform.ingress_token}"}
    )
    assert right.status_code == 202
    assert [event["type"] for event in published] == ["dev.rlarena.match.finished"]


def test_a_refused_caller_learns_nothing_about_the_body_it_sent(local: tuple[LocalPlatform, list[CloudEvent]]) -> None:
    # Not a CloudEvent at all: without the token the answer is still 401, not "not a CloudEvent".
    platform, published = local
    reply = platform.gateway().test_client().post(BROKER_INGRESS_PATH, data=b"garbage")
    assert (reply.status_code, (reply.json or {}).get("code")) == (401, "missing_broker_token")
    assert published == []
