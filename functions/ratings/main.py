"""Knative Services `ratings` (rates finished matches) and `dead-letters` (logs undeliverable events).

Each target imports its handler on its first event, that first time with the garbage collector
paused (rlarena.http.gc_pause): cold start.
"""

import functions_framework
from cloudevents.http import CloudEvent

from rlarena.http.gc_pause import paused_collector


@functions_framework.cloud_event
def ratings_events(event: CloudEvent) -> None:
    with paused_collector(first_import_of="rlarena.entrypoints.ratings"):
        from rlarena.entrypoints.ratings import on_match_finished
        from rlarena.events.targets import serve

    serve(on_match_finished, event)


@functions_framework.cloud_event
def dead_letters_events(event: CloudEvent) -> None:
    """Knative Service `dead-letters`: this small image also logs undeliverable events."""
    with paused_collector(first_import_of="rlarena.entrypoints.dead_letters"):
        from rlarena.entrypoints.dead_letters import on_dead_letter
        from rlarena.events.targets import serve

    serve(on_dead_letter, event)
