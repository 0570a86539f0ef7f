"""Publishing CloudEvents: binary mode to K_SINK on a cluster, the in-process broker locally."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Protocol

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from rlarena.errors import ConfigurationError, ServiceUnavailable
from rlarena.events.ingress import bearer_header

if TYPE_CHECKING:
    from rlarena.config import Settings

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(self, event: CloudEvent) -> None: ...


class HttpPublisher:
    """POSTs each event to the sink (the Broker's ingress) with bounded, backed-off retries.

    With a `token` (BROKER_TOKEN: the local platform's ingress requires it) every event carries
    `Authorization: Bearer <token>`; on Knative there is none and no such header is sent.
    """

    def __init__(
        self,
        sink: str,
        *,
        token: str | None = None,
        attempts: int = 3,
        first_delay: float = 0.2,
        timeout: float = 5.0,
    ) -> None:
        self._sink = sink
        self._auth = bearer_header(token) if token else {}
        self._attempts = attempts
        self._first_delay = first_delay
        self._timeout = timeout

    def publish(self, event: CloudEvent) -> None:
        headers, body = to_binary(event)
        headers = {**headers, **self._auth}
        last_problem = ""
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(self._first_delay * 2 ** (attempt - 1))
            request = urllib.request.Request(self._sink, data=body, headers=headers, method="POST")  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 - http(s) only
                    if 200 <= response.status < 300:
                        return
                    last_problem = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                last_problem = f"HTTP {error.code}"
                if 400 <= error.code < 500 and error.code not in (408, 429):
                    break  # the broker will never accept this event; retrying cannot help
            except (urllib.error.URLError, TimeoutError, OSError) as error:
                last_problem = type(error).__name__
        log.error("could not publish %s %s to the broker: %s", event["type"], event["id"], last_problem)
        raise ServiceUnavailable(f"could not publish {event['type']} event: {last_problem}")


class DiscardingPublisher:
    """For a function run alone without K_SINK (development, tests): says what it drops."""

    def publish(self, event: CloudEvent) -> None:
        log.warning("K_SINK is not set: event %s %s was not delivered", event["type"], event["id"])


class UnconfiguredPublisher:
    def publish(self, event: CloudEvent) -> None:
        raise ConfigurationError("K_SINK is not set: bind this function to the Broker with a SinkBinding")


class RecordingPublisher:
    """Keeps what was published; for tests and for composing publishers."""

    def __init__(self) -> None:
        self.events: list[CloudEvent] = []

    def publish(self, event: CloudEvent) -> None:
        self.events.append(event)


def publisher_for(settings: Settings) -> Publisher:
    if settings.k_sink:
        token = settings.broker_token.get_secret_value() if settings.broker_token else None
        return HttpPublisher(settings.k_sink, token=token)
    if settings.is_production:
        return UnconfiguredPublisher()
    return DiscardingPublisher()
