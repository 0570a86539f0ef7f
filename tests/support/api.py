"""A small driver for the HTTP functions: routes each path to its function as the gateway would."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from typing import Any

_counter = itertools.count()


@dataclass
class User:
    id: str
    username: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class ApiClient:
    """Routes each path to its function as the gateway's HTTPRoute does."""

    auth: Any
    agents: Any
    submissions: Any = None
    matchmaker: Any = None

    def client_for(self, path: str) -> Any:
        if path.startswith(("/api/v1/auth", "/api/v1/users")):
            return self.auth
        if path.startswith("/api/v1/submissions"):
            return self.submissions
        if path.startswith("/api/v1/matches"):
            return self.matchmaker
        return self.agents

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client_for(path).open(path, method=method, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def register(self, name: str | None = None, password: str = "correct horse battery") -> User:
        name = name or f"user{next(_counter)}"
        email = f"{name}@example.com"
        response = self.post("/api/v1/auth/register", json={"username": name, "email": email, "password": password})
        assert response.status_code == 201, response.json
        body = response.json
        return User(body["user"]["id"], name, email, password, body["token"])

    def upload(self, user: User, agent_id: str, filename: str, data: bytes) -> Any:
        """POST the code as a multipart upload; the response, whatever it is."""
        return self.post(
            "/api/v1/submissions",
            data={"agentId": agent_id, "file": (io.BytesIO(data), filename)},
            headers=user.headers,
            content_type="multipart/form-data",
        )

    def create_agent(self, user: User, name: str = "bot", environment: str = "tic-tac-toe") -> dict[str, Any]:
        response = self.post("/api/v1/agents", json={"name": name, "environmentId": environment}, headers=user.headers)
        assert response.status_code == 201, response.json
        agent: dict[str, Any] = response.json["agent"]
        return agent
