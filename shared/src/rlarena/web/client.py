"""The public REST API as the pages read it: plain HTTP to the platform's own API (urllib: no import cost)."""

from __future__ import annotations

import json
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

    def _send(self, method: str, path: str, body: bytes | None) -> dict[str, Any]:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"WEB_API_URL must be an http(s) URL, got {self.base_url!r}")
        url = self.base_url.rstrip("/") + path
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (http(s) checked above)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/json")
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


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
