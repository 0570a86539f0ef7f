"""How the generated client talks HTTP: the standard library's urllib, a timeout on every request,
the bearer token, JSON or multipart bodies, and one error type (`rlarena.errors.ApiError`) for any
4xx/5xx answer or an unreachable platform."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from rlarena.errors import ApiError

TIMEOUT_SECONDS = 60.0


class Upload(NamedTuple):
    """A file in a multipart body."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Transport:
    base_url: str  # e.g. "http://127.0.0.1:8080", without a trailing slash
    token: str | None = None
    timeout: float = TIMEOUT_SECONDS

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        json_body: object = None,
        form: Mapping[str, object] | None = None,
        content: tuple[bytes, str] | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one request (a JSON body, a multipart `form`, or raw `content` with its type); the
        JSON answer (None when empty), or its bytes when `raw`."""
        data, content_type = content or (None, None)
        if form is not None:
            data, content_type = multipart(form)
        elif json_body is not None:
            data, content_type = json.dumps(json_body).encode(), "application/json"
        present = {name: _text(value) for name, value in (query or {}).items() if value is not None}
        suffix = f"?{urllib.parse.urlencode(present)}" if present else ""
        body = self._send(method, path + suffix, data, content_type)
        if raw:
            return body
        return json.loads(body) if body.strip() else None

    def _send(self, method: str, path: str, data: bytes | None, content_type: str | None) -> bytes:
        url = self.base_url + path
        if not url.startswith(("http://", "https://")):
            raise ApiError(f"{self.base_url} is not an http:// or https:// URL", status=0, code="bad_url")
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - scheme checked above
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310
                answer: bytes = reply.read()
                return answer
        except urllib.error.HTTPError as error:
            raise error_of(error.code, error.headers.get("Retry-After"), error.read()) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(f"cannot reach {self.base_url}: {reason}", status=0, code="unreachable") from None


def path_segment(value: object) -> str:
    """A path parameter, quoted so that "/", "?" or "#" in it cannot change the route."""
    return urllib.parse.quote(_text(value), safe="")


def multipart(form: Mapping[str, object]) -> tuple[bytes, str]:
    """A multipart/form-data body of text fields and `Upload` files; (body, content type)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in form.items():
        if value is None:
            continue
        if isinstance(value, Upload):
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{_safe(name)}"; '
                f'filename="{_safe(value.filename)}"\r\nContent-Type: {_safe(value.content_type)}\r\n\r\n'
            )
            parts.append(head.encode() + value.data + b"\r\n")
        else:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_safe(name)}"\r\n\r\n'
            parts.append(head.encode() + _text(value).encode() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def error_of(status: int, retry_after: str | None, raw: bytes) -> ApiError:
    """The API's JSON error body ({"error", "code", "details"?}), or the start of whatever came back."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    wait = _seconds(retry_after)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code = str(body.get("code") or "") or None
        return ApiError(body["error"], status=status, code=code, retry_after_seconds=wait, details=body.get("details"))
    text = raw[:200].decode("utf-8", "replace").strip()
    return ApiError(f"HTTP {status}" + (f": {text}" if text else ""), status=status, retry_after_seconds=wait)


def _seconds(retry_after: str | None) -> float | None:
    try:
        return float(retry_after) if retry_after else None
    except ValueError:
        return None  # an HTTP date: rare, and not one this API sends


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _safe(text: str) -> str:
    return text.replace('"', "_").replace("\r", "_").replace("\n", "_")
