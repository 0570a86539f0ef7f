"""Knative Services `ratings` (rates finished matches) and `dead-letters` (logs undeliverable events)."""

import functions_framework
from cloudevents.http import CloudEvent

from rlarena.entrypoints.dead_letters import on_dead_letter
from rlarena.entrypoints.ratings import on_match_finished
from rlarena.events.targets import serve


@functions_framework.cloud_event
def ratings_events(event: CloudEvent) -> None:
    serve(on_match_finished, event)


@functions_framework.cloud_event
def dead_letters_events(event: CloudEvent) -> None:
    """Knative Service `dead-letters`: this small image also logs undeliverable events."""
    serve(on_dead_letter, event)
