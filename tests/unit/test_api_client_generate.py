"""The client generator: every OpenAPI 3.1 structure turned into the Python type it means, one
typed method per operation, a --check mode that says when the written client is stale."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, NotRequired

import pytest

from rlarena.api_client import generate
from rlarena.api_client.transport import Upload
from tests.support.openapi_fixture import DOCUMENT, generated_module


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return generated_module(DOCUMENT, tmp_path_factory.mktemp("generated"))


def hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def test_the_check_mode_says_when_the_client_is_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(DOCUMENT))
    output = tmp_path / "client.py"
    assert generate.main(["--document", str(document), "--output", str(output), "--check"]) == 1
    assert "is stale" in capsys.readouterr().err
    assert generate.main(["--document", str(document), "--output", str(output)]) == 0
    assert generate.main(["--document", str(document), "--output", str(output), "--check"]) == 0
    output.write_text(output.read_text() + "# edited by hand\n")
    assert generate.main(["--document", str(document), "--output", str(output), "--check"]) == 1


def test_every_operation_is_one_method_and_a_json_or_multipart_operation_two(api: ModuleType) -> None:
    methods = {name for name, _ in inspect.getmembers(api.ArenaApi, inspect.isfunction) if not name.startswith("_")}
    assert methods == {
        "list_agents", "create_agent", "get_agent", "delete_agent", "create_submission",
        "create_submission_upload", "upload_code", "get_replay",
    }  # fmt: skip


def test_objects_become_typed_dicts_with_required_and_optional_fields(api: ModuleType) -> None:
    agent = hints(api.Agent)
    assert agent["id"] is str and agent["elo"] is float and agent["wins"] is int and agent["house"] is bool
    assert agent["tags"] == NotRequired[list[str]]
    assert agent["status"] == Literal["pending", "active", "failed"]  # the BuildStatus component
    assert {key for key, kind in agent.items() if typing.get_origin(kind) is not NotRequired} == {
        "id", "name", "elo", "wins", "house", "description", "rank", "status", "kind"
    }  # fmt: skip
    assert api.Agent.__doc__ == "An agent: its name, game and rating."


def test_nullable_fields_by_any_of_or_a_list_of_types_take_none(api: ModuleType) -> None:
    agent = hints(api.Agent)
    assert agent["description"] == str | None
    assert agent["rank"] == int | None


def test_enums_and_consts_become_literals(api: ModuleType) -> None:
    assert api.BuildStatus == Literal["pending", "active", "failed"]
    assert hints(api.Agent)["kind"] == Literal["agent"]
    assert hints(api.ArenaApi.get_replay)["format"] == Literal["json", "html"] | None


def test_references_arrays_and_additional_properties(api: ModuleType) -> None:
    assert hints(api.AgentList)["agents"] == list[api.Agent]  # type: ignore[name-defined]
    agent = hints(api.Agent)
    assert agent["counts"] == NotRequired[dict[str, int]]
    assert agent["extra"] == NotRequired[dict[str, Any]]


def test_an_inline_object_gets_a_typed_dict_named_after_where_it_is(api: ModuleType) -> None:
    assert hints(api.Agent)["skill"] == NotRequired[api.AgentSkill]
    assert hints(api.AgentSkill) == {"mu": float, "sigma": NotRequired[float]}
    assert hints(api.CreateSubmissionAnswerSubmission) == {"id": str, "version": int}


def test_keys_that_are_no_python_names_keep_their_spelling(api: ModuleType) -> None:
    assert hints(api.OddKeys) == {"x-rate": NotRequired[int], "class": NotRequired[str]}


def test_path_query_and_body_arguments_are_typed_and_named_in_snake_case(api: ModuleType) -> None:
    listing = inspect.signature(api.ArenaApi.list_agents)
    assert list(listing.parameters) == ["self", "page", "page_size", "environment_id"]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is None for p in list(listing.parameters.values())[1:])
    assert listing.return_annotation == "AgentList"
    assert str(inspect.signature(api.ArenaApi.get_agent)) == "(self, agent_id: 'str') -> 'AgentAnswer'"
    create = inspect.signature(api.ArenaApi.create_agent)
    assert str(create) == "(self, body: 'CreateAgent') -> 'AgentAnswer'"
    assert inspect.signature(api.ArenaApi.delete_agent).return_annotation == "None"


def test_multipart_files_are_uploads_and_raw_bodies_and_answers_bytes(api: ModuleType) -> None:
    upload = inspect.signature(api.ArenaApi.create_submission_upload)
    assert {name: p.annotation for name, p in upload.parameters.items()} == {
        "self": inspect.Parameter.empty, "agent_id": "str", "file": "Upload"
    }  # fmt: skip
    assert api.Upload is Upload
    assert (
        str(inspect.signature(api.ArenaApi.upload_code))
        == "(self, submission_id: 'str', data: 'bytes') -> 'dict[str, Any]'"
    )
    assert inspect.signature(api.ArenaApi.get_replay).return_annotation == "bytes"


def test_the_generated_source_passes_ruff_as_the_repository_configures_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "client.py"
    path.write_text(generate.render(DOCUMENT))
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(root / "pyproject.toml"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_method_names_stay_unique_when_operation_ids_clash(tmp_path: Path) -> None:
    either: dict[str, Any] = {"content": {"application/json": {"schema": {}}, "multipart/form-data": {"schema": {}}}}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Clashes", "version": "1"},
        "paths": {
            "/a": {"post": {"operationId": "create", "requestBody": either, "responses": {}}},
            "/b": {"post": {"operationId": "create_upload", "responses": {}}},
            "/c": {"get": {"operationId": "create", "responses": {}}, "put": {"responses": {}}},
        },
    }
    module = generated_module(document, tmp_path, "clashing_api")
    names = {name for name, _ in inspect.getmembers(module.ArenaApi, inspect.isfunction) if not name.startswith("_")}
    assert names == {"create", "create_upload", "create_upload2", "create2", "put_c"}
