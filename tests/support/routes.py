"""Every route of every HTTP function, classified (who may call it, what it takes).

The bad-input, outage and deleted-user suites derive their routes from the routers through this
table, so a new route fails until it is classified here.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import Enum
from functools import cache

from rlarena.http.api import HttpApi
from tests.conftest import ROOT


class Access(Enum):
    PUBLIC = "anyone"
    USER = "any signed-in user"
    OWNER = "the owner of the agent, submission or match in the path"
    WEBHOOK = "the storage webhook's shared secret"


class Takes(Enum):
    NOTHING = "no body"
    JSON = "a JSON object"
    RAW = "raw bytes"


@dataclass(frozen=True)
class Route:
    access: Access
    takes: Takes = Takes.NOTHING


ROUTES: dict[tuple[str, str, str], Route] = {
    ("agents", "GET", "/health"): Route(Access.PUBLIC),
    ("agents", "GET", "/api/v1/openapi.json"): Route(Access.PUBLIC),
    ("agents", "GET", "/api/v1/agents"): Route(Access.PUBLIC),
    ("agents", "GET", "/api/v1/agents/my"): Route(Access.USER),
    ("agents", "POST", "/api/v1/agents"): Route(Access.USER, Takes.JSON),
    ("agents", "GET", "/api/v1/agents/<agentId>"): Route(Access.PUBLIC),
    ("agents", "PUT", "/api/v1/agents/<agentId>"): Route(Access.OWNER, Takes.JSON),
    ("agents", "PATCH", "/api/v1/agents/<agentId>"): Route(Access.OWNER, Takes.JSON),
    ("agents", "DELETE", "/api/v1/agents/<agentId>"): Route(Access.OWNER),
    ("agents", "GET", "/api/v1/agents/<agentId>/stats"): Route(Access.PUBLIC),
    ("agents", "GET", "/api/v1/agents/<agentId>/rating-history"): Route(Access.PUBLIC),
    ("agents", "GET", "/api/v1/leaderboard"): Route(Access.PUBLIC),
    ("agents", "GET", "/api/v1/leaderboard/environment/<environmentId>"): Route(Access.PUBLIC),
    ("agents", "GET", "/api/v1/environments"): Route(Access.PUBLIC),
    ("auth", "GET", "/health"): Route(Access.PUBLIC),
    ("auth", "GET", "/api/v1/openapi.json"): Route(Access.PUBLIC),
    ("auth", "POST", "/api/v1/auth/register"): Route(Access.PUBLIC, Takes.JSON),
    ("auth", "POST", "/api/v1/auth/login"): Route(Access.PUBLIC, Takes.JSON),
    ("auth", "GET", "/api/v1/users/me"): Route(Access.USER),
    ("auth", "PUT", "/api/v1/users/me"): Route(Access.USER, Takes.JSON),
    ("auth", "PATCH", "/api/v1/users/me"): Route(Access.USER, Takes.JSON),
    ("matchmaker", "GET", "/health"): Route(Access.PUBLIC),
    ("matchmaker", "GET", "/api/v1/openapi.json"): Route(Access.PUBLIC),
    ("matchmaker", "GET", "/api/v1/matches"): Route(Access.PUBLIC),
    ("matchmaker", "POST", "/api/v1/matches"): Route(Access.USER, Takes.JSON),
    ("matchmaker", "GET", "/api/v1/matches/replays"): Route(Access.PUBLIC),
    ("matchmaker", "GET", "/api/v1/matches/agent/<agentId>"): Route(Access.PUBLIC),
    ("matchmaker", "GET", "/api/v1/matches/<matchId>"): Route(Access.PUBLIC),
    ("matchmaker", "GET", "/api/v1/matches/<matchId>/logs"): Route(Access.OWNER),
    ("matchmaker", "GET", "/api/v1/matches/<matchId>/replay"): Route(Access.PUBLIC),
    ("matchmaker", "GET", "/api/v1/matches/<matchId>/replay-url"): Route(Access.PUBLIC),
    ("submissions", "GET", "/health"): Route(Access.PUBLIC),
    ("submissions", "GET", "/api/v1/openapi.json"): Route(Access.PUBLIC),
    ("submissions", "POST", "/api/v1/submissions"): Route(Access.USER, Takes.JSON),  # or multipart
    ("submissions", "POST", "/api/v1/submissions/upload-url"): Route(Access.USER, Takes.JSON),
    ("submissions", "PUT", "/api/v1/submissions/<submissionId>/upload"): Route(Access.OWNER, Takes.RAW),
    ("submissions", "GET", "/api/v1/submissions/<submissionId>"): Route(Access.OWNER),
    ("submissions", "GET", "/api/v1/submissions/agent/<agentId>"): Route(Access.OWNER),
    ("submissions", "PUT", "/api/v1/submissions/<submissionId>/activate"): Route(Access.OWNER),
    ("submissions", "GET", "/api/v1/submissions/<submissionId>/build-status"): Route(Access.OWNER),
    ("submissions", "GET", "/api/v1/submissions/<submissionId>/build-logs"): Route(Access.OWNER),
    ("submissions", "POST", "/api/v1/submissions/<submissionId>/rebuild"): Route(Access.OWNER),
    ("submissions", "GET", "/api/v1/submissions/<submissionId>/code"): Route(Access.OWNER),
    ("submissions", "POST", "/internal/storage-events"): Route(Access.WEBHOOK, Takes.RAW),
    ("ws-relay", "GET", "/health"): Route(Access.PUBLIC),
    ("ws-relay", "GET", "/api/v1/openapi.json"): Route(Access.PUBLIC),
    ("ws-relay", "GET", "/api/v1/ws"): Route(Access.PUBLIC),
}


PARAMS = {"agentId": "agent", "submissionId": "submission", "matchId": "match", "environmentId": "text"}


@dataclass(frozen=True)
class Function:
    name: str
    target: str
    api: HttpApi


@cache
def functions() -> dict[str, Function]:
    """Each functions/<name>/main.py that binds an HttpApi, with its HTTP target."""
    found = {}
    for main in sorted((ROOT / "functions").glob("*/main.py")):
        spec = importlib.util.spec_from_file_location(f"_bad_input_{main.parent.name.replace('-', '_')}", main)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        apis = [value for value in vars(module).values() if isinstance(value, HttpApi)]
        if not apis:
            continue  # a CloudEvents-only function
        targets = [name for name, value in vars(module).items() if name.endswith("_http") and callable(value)]
        assert len(apis) == 1 and len(targets) == 1, f"{main}: expected one HttpApi and one *_http target"
        found[main.parent.name] = Function(main.parent.name, targets[0], apis[0])
    return found


def served_routes() -> list[tuple[str, str, str]]:
    return sorted((f.name, method, rule) for f in functions().values() for method, rule in f.api.routes())
