"""A small OpenAPI 3.1 document with every structure the client generator must handle (objects,
arrays, enums, const, nullable by anyOf and by type lists, $ref to schemas, parameters and responses,
additionalProperties, inline objects, keys that are no identifiers, JSON or multipart bodies, raw
bytes in and out, answers without content), and the generated client of it as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Fixture API", "version": "1.0"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Agent": {
                "type": "object",
                "description": "An agent: its name, game and rating.",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string"},
                    "elo": {"type": "number"},
                    "wins": {"type": "integer"},
                    "house": {"type": "boolean"},
                    "description": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "rank": {"type": ["integer", "null"]},
                    "status": {"$ref": "#/components/schemas/BuildStatus"},
                    "skill": {
                        "type": "object",
                        "properties": {"mu": {"type": "number"}, "sigma": {"type": "number"}},
                        "required": ["mu"],
                    },
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "extra": {"type": "object"},
                    "kind": {"const": "agent"},
                },
                "required": ["id", "name", "elo", "wins", "house", "description", "rank", "status", "kind"],
            },
            "BuildStatus": {"type": "string", "enum": ["pending", "active", "failed"]},
            "AgentList": {
                "type": "object",
                "properties": {
                    "agents": {"type": "array", "items": {"$ref": "#/components/schemas/Agent"}},
                    "total": {"type": "integer"},
                },
                "required": ["agents", "total"],
            },
            "AgentAnswer": {
                "type": "object",
                "properties": {"agent": {"$ref": "#/components/schemas/Agent"}},
                "required": ["agent"],
            },
            "Odd-Keys": {"type": "object", "properties": {"x-rate": {"type": "integer"}, "class": {"type": "string"}}},
            "CreateAgent": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "environmentId": {"type": "string"},
                    "description": {"type": "string"},
                },
                "required": ["name", "environmentId"],
            },
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "code": {"type": "string"}, "details": {}},
                "required": ["error", "code"],
            },
        },
        "parameters": {"Page": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}}},
        "responses": {
            "NotFound": {
                "description": "no such thing",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
    },
    "paths": {
        "/api/v1/agents": {
            "get": {
                "operationId": "list_agents",
                "summary": "Every agent, a page at a time.",
                "parameters": [
                    {"$ref": "#/components/parameters/Page"},
                    {"name": "pageSize", "in": "query", "schema": {"type": "integer"}},
                    {"name": "environmentId", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "a page",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AgentList"}}},
                    }
                },
            },
            "post": {
                "operationId": "create_agent",
                "summary": "Create an agent.",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateAgent"}}},
                },
                "responses": {
                    "201": {
                        "description": "created",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AgentAnswer"}}},
                    },
                    "429": {"description": "slow down"},
                },
            },
        },
        "/api/v1/agents/{agentId}": {
            "parameters": [
                {"name": "agentId", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
            ],
            "get": {
                "operationId": "get_agent",
                "responses": {
                    "200": {
                        "description": "it",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AgentAnswer"}}},
                    },
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
            "delete": {"operationId": "delete_agent", "responses": {"204": {"description": "gone"}}},
        },
        "/api/v1/submissions": {
            "post": {
                "operationId": "create_submission",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"agentId": {"type": "string"}, "codeUrl": {"type": "string"}},
                                "required": ["agentId", "codeUrl"],
                            }
                        },
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "agentId": {"type": "string"},
                                    "file": {"type": "string", "format": "binary"},
                                },
                                "required": ["agentId", "file"],
                            }
                        },
                    },
                },
                "responses": {
                    "201": {
                        "description": "stored",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "submission": {
                                            "type": "object",
                                            "properties": {"id": {"type": "string"}, "version": {"type": "integer"}},
                                            "required": ["id", "version"],
                                        }
                                    },
                                    "required": ["submission"],
                                }
                            }
                        },
                    }
                },
            }
        },
        "/api/v1/submissions/{submissionId}/upload": {
            "put": {
                "operationId": "upload_code",
                "parameters": [{"name": "submissionId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {
                    "required": True,
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                },
                "responses": {
                    "200": {
                        "description": "stored",
                        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
                    }
                },
            }
        },
        "/api/v1/matches/{matchId}/replay": {
            "get": {
                "operationId": "get_replay",
                "parameters": [
                    {"name": "matchId", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "format", "in": "query", "schema": {"enum": ["json", "html"], "type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "the replay",
                        "content": {"application/json": {"schema": {}}, "text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    },
}


def generated_module(document: dict[str, Any], folder: Path, name: str = "fixture_api") -> ModuleType:
    """`document`'s generated client, written to `folder` and imported as module `name`."""
    from rlarena.api_client.generate import render

    path = folder / f"{name}.py"
    path.write_text(render(document), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # typing.get_type_hints looks the module up by name
    spec.loader.exec_module(module)
    return module
