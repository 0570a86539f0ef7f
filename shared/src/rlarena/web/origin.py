"""Where the server reads the REST API: WEB_API_URL, or the origin the page itself was asked at.

Unset (the local platform, a cluster whose gateway serves pages and API on one host), the API is
the request's own scheme and host: the gateway that routed it. Behind a trusted gateway
(TRUST_FORWARDED_FOR) its `X-Forwarded-Proto` and `X-Forwarded-Host` say what the client asked for;
otherwise they are ignored, as anyone can send them. A host that is not a host name (with an
optional port) is refused rather than fetched.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rlarena.errors import InvalidInput

if TYPE_CHECKING:
    import flask

    from rlarena.config import Settings

_HOST = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def api_base(settings: Settings, request: flask.Request) -> str:
    if settings.web_api_url:
        return settings.web_api_url
    scheme, host = request.scheme, request.host
    if settings.trust_forwarded_for:
        scheme = _first(request.headers.get("X-Forwarded-Proto")) or scheme
        host = _first(request.headers.get("X-Forwarded-Host")) or host
    if scheme not in ("http", "https") or not _HOST.fullmatch(host):
        raise InvalidInput("the request's host is not one this site answers for")
    return f"{scheme}://{host}"


def _first(value: str | None) -> str:
    """The first of a comma-separated header's values (the client's, in front of later proxies')."""
    return (value or "").split(",")[0].strip()
