"""Fetching `{"codeUrl"}` submissions: http(s) only, bounded in size and time, never inward.

A submission URL is chosen by the user, so the fetch must not become a way into the platform's
own network (cloud metadata, the database, the cluster): every address the host resolves to must
be public unless the operator allows private ones (tests, a private artifact server).
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rlarena.errors import InvalidInput, PayloadTooLarge


@dataclass(frozen=True)
class FetchedCode:
    filename: str
    data: bytes


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could point at a private address after the check; refuse them all.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch_code(url: str, *, max_bytes: int, timeout: timedelta, allow_private: bool) -> FetchedCode:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInput("codeUrl must be an http(s) URL", code="bad_code_url")
    filename = parsed.path.rsplit("/", 1)[-1]
    if not filename.lower().endswith((".zip", ".tar.gz", ".tgz", ".py")):
        raise InvalidInput(
            "codeUrl must point to a .zip, .tar.gz or .py file (the name at the end of the path decides)",
            code="unsupported_type",
        )
    if not allow_private:
        _refuse_private(parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80))
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(url, headers={"User-Agent": "rlarena-fetch/1"})  # noqa: S310 - scheme checked
    try:
        with opener.open(request, timeout=timeout.total_seconds()) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise PayloadTooLarge(f"the code at codeUrl is larger than {max_bytes} bytes", code="archive_too_large")
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400:
            raise InvalidInput("codeUrl redirects; give the final URL of the file", code="code_url_redirect") from None
        raise InvalidInput(f"fetching codeUrl failed: HTTP {error.code}", code="code_url_unreachable") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise InvalidInput(
            f"fetching codeUrl failed: {type(reason).__name__}; check the URL is public and reachable",
            code="code_url_unreachable",
        ) from None
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the code at codeUrl is larger than {max_bytes} bytes", code="archive_too_large")
    return FetchedCode(filename=urllib.parse.unquote(filename), data=data)


def _refuse_private(host: str, port: int) -> None:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except socket.gaierror:
        raise InvalidInput(f"codeUrl host {host!r} does not resolve", code="code_url_unreachable") from None
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not ip.is_global:
            raise InvalidInput("codeUrl must point to a public address", code="code_url_forbidden")
