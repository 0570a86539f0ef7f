"""Who may post events to the local broker's ingress: only holders of the platform's broker token.

Results move ratings, so a forged `dev.rlarena.match.finished` must never reach a subscriber. The
local platform (`rlarena dev`) serves its ingress on the public port, so every event must carry
`Authorization: Bearer <token>` (Settings.broker_ingress_token: BROKER_TOKEN or DATA_DIR/broker-token),
which only the platform and the executor it starts know. On Knative there is no token: the Broker's
ingress is closed by a NetworkPolicy instead (docs/DEPLOY.md, knative/eventing-system/).
"""

from __future__ import annotations

import hashlib
import hmac

from rlarena.errors import ConfigurationError, Forbidden, Unauthenticated


def bearer_header(token: str) -> dict[str, str]:
    """The header a publisher sends with every event."""
    return {"Authorization": f"Bearer {token}"}


def check_ingress_token(header: str | None, expected: str) -> None:
    """Accept only `Authorization: Bearer <expected>`.

    Raises Unauthenticated (401) when no bearer token is sent and Forbidden (403) for a wrong one.
    The comparison takes the same time whatever the token (digests of equal length, compared in
    constant time), so timing tells nothing about how much of a guess was right.
    """
    if not expected:
        # An empty token would accept "Bearer " from anyone: refuse to run open instead.
        raise ConfigurationError("the broker ingress has no token configured, so it accepts no event")
    if not header or not header.strip():
        raise Unauthenticated(
            "the broker ingress takes events only from the platform: send `Authorization: Bearer <broker token>`",
            code="missing_broker_token",
        )
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <broker token>`", code="missing_broker_token")
    given = hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).digest()
    wanted = hashlib.sha256(expected.encode()).digest()
    if not hmac.compare_digest(given, wanted):
        raise Forbidden("wrong broker token: this event was not accepted", code="invalid_broker_token")
