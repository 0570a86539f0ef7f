"""A small HTTP client for the platform's REST API (standard library only, for the author's
commands): JSON in and out, multipart uploads, raw downloads; the API's error message on failure."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 60.0


class ApiError(Exception):
    """The platform answered with an error (its message and code), or could not be reached (status 0)."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ArenaClient:
    base_url: str  # e.g. "http://127.0.0.1:8080", without a trailing slash
    token: str | None = None
    timeout: float = TIMEOUT_SECONDS

    def get(self, path: str, **query: str | int) -> Any:
        return json.loads(self.download(path, **query) or b"null")

    def post(self, path: str, body: Any) -> Any:
        raw = self._send("POST", path, json.dumps(body).encode(), "application/json")
        return json.loads(raw or b"null")

    def upload(self, path: str, fields: dict[str, str], filename: str, data: bytes) -> Any:
        """A multipart/form-data POST: `fields` and one file under the name "file"."""
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        ]
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        raw = self._send("POST", path, b"".join(parts), f"multipart/form-data; boundary={boundary}")
        return json.loads(raw or b"null")

    def download(self, path: str, **query: str | int) -> bytes:
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        return self._send("GET", path + suffix, None, None)

    def _send(self, method: str, path: str, data: bytes | None, content_type: str | None) -> bytes:
        url = self.base_url + path
        if not url.startswith(("http://", "https://")):
            raise ApiError(0, f"{self.base_url} is not an http:// or https:// URL")
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - scheme checked above
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310
                body: bytes = reply.read()
                return body
        except urllib.error.HTTPError as error:
            raise _api_error(error.code, error.read()) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(0, f"cannot reach {self.base_url}: {reason}") from None


def _api_error(status: int, raw: bytes) -> ApiError:
    """The platform's JSON error body ({"error", "code"}), or the start of whatever else came back."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return ApiError(status, body["error"], str(body.get("code") or ""))
    text = raw[:200].decode("utf-8", "replace").strip()
    return ApiError(status, f"HTTP {status}" + (f": {text}" if text else ""))
