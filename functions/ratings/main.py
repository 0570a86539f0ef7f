"""Knative Service `ratings`: the CloudEvent target that rates finished matches."""

import functions_framework
from cloudevents.http import CloudEvent

from rlarena.entrypoints.ratings import on_match_finished
from rlarena.events.targets import serve


@functions_framework.cloud_event
def ratings_events(event: CloudEvent) -> None:
    serve(on_match_finished, event)
