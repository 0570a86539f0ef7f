"""The public REST API as the pages read it: plain HTTP to the platform's own API (urllib: no import cost)."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from rlarena.errors import ConfigurationError, RLArenaError, ServiceUnavailable


class ApiRefused(RLArenaError):
    """The API answered with an error; `status` and `message` are its own, shown to the user."""

    code = "api_error"

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.api_code = code


@dataclass(frozen=True)
class ApiClient:
    base_url: str
    token: str | None = None
    timeout: float = 10.0

    def get(self, path: str) -> dict[str, Any]:
        return self._send("GET", path, None)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", path, json.dumps(body).encode())

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("PUT", path, json.dumps(body).encode())

    def post_file(self, path: str, fields: dict[str, str], filename: str, data: bytes) -> dict[str, Any]:
        """A multipart/form-data POST of `fields` and one file (the form field `file`)."""
        body, content_type = multipart(fields, filename, data)
        return self._send("POST", path, body, content_type)

    def _send(
        self, method: str, path: str, body: bytes | None, content_type: str = "application/json"
    ) -> dict[str, Any]:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"WEB_API_URL must be an http(s) URL, got {self.base_url!r}")
        url = self.base_url.rstrip("/") + path
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (http(s) checked above)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310
                return _json(reply.read())
        except urllib.error.HTTPError as error:
            answer = _json(error.read())
            raise ApiRefused(
                error.code, str(answer.get("error") or error.reason), str(answer.get("code") or "")
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ServiceUnavailable(f"the API at {self.base_url} did not answer: {error}") from None


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    """The body and Content-Type of a form with `fields` and the file `filename` (quotes and line breaks dropped)."""
    boundary = f"rlarena-{secrets.token_hex(16)}"
    safe_name = "".join(c for c in filename if c not in '"\\\r\n') or "upload"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
