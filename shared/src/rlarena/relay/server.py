"""`python -m rlarena.relay`: the relay as its container runs it, uvicorn on $PORT.

Protocol pings find dead peers (RELAY_PING_INTERVAL, RELAY_PING_TIMEOUT); per-message deflate is
off (a zlib context per connection costs more memory than the small JSON messages save); client
frames are capped well above any command. On SIGTERM uvicorn closes every WebSocket with 1012
("service restart") so browsers reconnect to the new pod.
"""

from __future__ import annotations

import sys

from rlarena.errors import ConfigurationError

MAX_FRAME_BYTES = 64 * 1024
GRACEFUL_SHUTDOWN_SECONDS = 10


def main() -> int:
    import uvicorn

    from rlarena import runtime
    from rlarena.bootstrap import bootstrap
    from rlarena.config import load_settings
    from rlarena.logs import configure_logging
    from rlarena.relay.app import create_app, current

    try:
        settings = load_settings()
    except ConfigurationError as error:
        print(f"ws-relay: {error.message}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, structured=settings.is_production)
    runtime.install(bootstrap(settings))
    config = uvicorn.Config(
        create_app(current()),
        host="0.0.0.0",  # noqa: S104 - the container's port, reached through the Knative Service
        port=settings.port,
        ws_ping_interval=settings.relay_ping_interval.total_seconds(),
        ws_ping_timeout=settings.relay_ping_timeout.total_seconds(),
        ws_max_size=MAX_FRAME_BYTES,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        access_log=False,  # a ?token= would end up in it
        log_config=None,  # keep configure_logging's handlers (JSON lines in production)
        log_level="warning",
        lifespan="on",
    )
    uvicorn.Server(config).run()
    return 0
