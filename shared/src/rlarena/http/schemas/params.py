"""Path parameters and non-JSON bodies several routes share."""

from __future__ import annotations

from typing import Any

from rlarena.http.operation import PathParam

AGENT_ID = PathParam("The agent's id")
SUBMISSION_ID = PathParam("The submission's id")
MATCH_ID = PathParam("The match's id")

BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
UPLOAD_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["agentId", "file"],
    "properties": {
        "agentId": {"type": "string", "format": "uuid", "description": "The agent this code is for"},
        "file": {**BINARY, "description": "The code: a .py file, a .zip or a .tar.gz"},
    },
}
