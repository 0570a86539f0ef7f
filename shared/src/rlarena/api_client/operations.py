"""One OpenAPI operation as one method of the generated client: path parameters as positional
arguments, query parameters as keywords, a JSON body as `body`, multipart fields as keywords (files
as `Upload`), raw bytes as `data`, and the type of its success answer."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlarena.api_client.names import class_name, snake_name, unique
from rlarena.api_client.schema_types import Schema, SchemaTypes, docstring, resolve

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
JSON = "application/json"
MULTIPART = "multipart/form-data"


@dataclass
class Argument:
    name: str  # the Python name
    wire: str  # the name on the wire
    kind: str  # its type expression
    required: bool

    def signature(self) -> str:
        if self.required:
            return f"{self.name}: {self.kind}"
        optional = self.kind if "None" in self.kind.split(" | ") else f"{self.kind} | None"
        return f"{self.name}: {optional} = None"


@dataclass
class Method:
    name: str
    http_method: str
    path: str
    summary: str
    path_args: list[Argument] = field(default_factory=list)
    query_args: list[Argument] = field(default_factory=list)
    body: Argument | None = None  # a JSON body
    form_args: list[Argument] = field(default_factory=list)  # a multipart body
    raw_body: Argument | None = None  # bytes with their content type
    raw_content_type: str = ""
    returns: str = "None"
    raw_answer: bool = False

    def source(self) -> str:
        keywords = [*self.query_args, *self.form_args]
        positional = [*self.path_args, *(a for a in (self.body, self.raw_body) if a and a.required)]
        optional_positional = [a for a in (self.body, self.raw_body) if a and not a.required]
        ordered = [*(a for a in keywords if a.required), *(a for a in keywords if not a.required)]
        parameters = ["self", *(a.signature() for a in [*positional, *optional_positional])]
        if ordered:
            parameters += ["*", *(a.signature() for a in ordered)]
        listed = "".join(f"        {parameter},\n" for parameter in parameters)
        head = f"    def {self.name}(\n{listed}    ) -> {self.returns}:\n"
        head += docstring(self.summary, "        ", gap="")
        call = self._call()
        if self.returns == "None":
            return f"{head}        {call}\n"
        if self.returns == "Any":
            return f"{head}        return {call}\n"
        return f"{head}        return cast({json.dumps(self.returns)}, {call})\n"

    def _call(self) -> str:
        arguments = [json.dumps(self.http_method.upper()), self._path()]
        if self.query_args:
            arguments.append("query={" + ", ".join(f"{json.dumps(a.wire)}: {a.name}" for a in self.query_args) + "}")
        if self.body:
            arguments.append(f"json_body={self.body.name}")
        if self.form_args:
            arguments.append("form={" + ", ".join(f"{json.dumps(a.wire)}: {a.name}" for a in self.form_args) + "}")
        if self.raw_body:
            arguments.append(f"content=({self.raw_body.name}, {json.dumps(self.raw_content_type)})")
        if self.raw_answer:
            arguments.append("raw=True")
        return "self.transport.call(" + ", ".join(arguments) + ")"

    def _path(self) -> str:
        path = self.path.replace("{", "{{").replace("}", "}}")
        if not self.path_args:
            return json.dumps(self.path)
        for argument in self.path_args:
            path = path.replace("{{" + argument.wire + "}}", "{path_segment(" + argument.name + ")}")
        return "f" + json.dumps(path)


def methods(document: Schema, types: SchemaTypes) -> Iterator[Method]:
    """Every operation of `document`, in path then method order, as a Method (two for an operation
    that takes either JSON or multipart: the multipart one's name ends in "_upload")."""
    taken: set[str] = set()
    for path, listed in sorted(document.get("paths", {}).items()):
        item = resolve(document, listed) or {}
        for http_method in METHODS:
            operation = item.get(http_method)
            if not isinstance(operation, Mapping):
                continue
            base = Method(unique(operation_name(path, http_method, operation), taken), http_method, path, "")
            shared = [*item.get("parameters", ())]
            for method in _variants(document, types, base, shared, operation):
                if method.name != base.name:  # "_upload": unique among the operations' names too
                    method.name = unique(method.name, taken)
                yield method


def operation_name(path: str, http_method: str, operation: Mapping[str, Any]) -> str:
    """The operationId in snake_case, or one made of the method and the path's words."""
    return snake_name(str(operation.get("operationId") or f"{http_method}_{path}"))


def _variants(
    document: Schema, types: SchemaTypes, base: Method, shared: list[Any], operation: Mapping[str, Any]
) -> Iterator[Method]:
    name = base.name
    base.summary = str(operation.get("summary") or operation.get("description") or "")
    hint = class_name(name)
    _add_parameters(document, types, base, hint, [*shared, *operation.get("parameters", ())])
    base.returns, base.raw_answer = _answer(document, types, operation.get("responses", {}), hint)
    body = resolve(document, operation.get("requestBody")) or {}
    content: Mapping[str, Any] = body.get("content", {})
    required = bool(body.get("required"))
    taken = {a.name for a in [*base.path_args, *base.query_args]} | {"self"}
    json_type = next((kind for kind in content if _is_json(kind)), None)
    other = sorted((kind for kind in content if not _is_json(kind)), key=lambda kind: not kind.startswith(MULTIPART))
    if json_type is None and not other:
        yield base
        return
    if json_type is not None:
        schema = content[json_type].get("schema", True)
        kind = types.expression(schema, hint + "Body")
        yield _with(base, body=Argument(unique("body", set(taken)), "body", kind, required))
    if other:
        media = other[0]  # multipart when offered, else the first other kind (raw bytes)
        variant = _with(base, name=f"{name}_upload" if json_type else name)
        if media.startswith(MULTIPART):
            schema = resolve(document, content[media].get("schema", {})) or {}
            variant.form_args = _form_arguments(document, types, schema, hint + "Form", set(taken))
        else:
            variant.raw_body = Argument(unique("data", set(taken)), "data", "bytes", required)
            variant.raw_content_type = media
        yield variant


def _with(method: Method, **changes: Any) -> Method:
    copy = Method(**{**method.__dict__, "path_args": [*method.path_args], "query_args": [*method.query_args]})
    for key, value in changes.items():
        setattr(copy, key, value)
    return copy


def _add_parameters(document: Schema, types: SchemaTypes, method: Method, hint: str, raw: list[Any]) -> None:
    chosen: dict[tuple[str, str], Mapping[str, Any]] = {}
    for item in raw:
        parameter = resolve(document, item)
        if isinstance(parameter, Mapping) and parameter.get("in") in ("path", "query"):
            chosen[str(parameter["in"]), str(parameter["name"])] = parameter  # the operation's own win
    taken = {"self", "body", "data"}
    for (where, wire), parameter in chosen.items():
        kind = types.expression(parameter.get("schema", True), hint + class_name(wire))
        required = where == "path" or bool(parameter.get("required"))
        argument = Argument(unique(snake_name(wire), taken), wire, kind, required)
        (method.path_args if where == "path" else method.query_args).append(argument)
    order = [part[1:-1] for part in method.path.split("/") if part.startswith("{") and part.endswith("}")]
    method.path_args.sort(key=lambda a: order.index(a.wire) if a.wire in order else len(order))


def _form_arguments(document: Schema, types: SchemaTypes, schema: Schema, hint: str, taken: set[str]) -> list[Argument]:
    required = set(schema.get("required", ()))
    arguments = []
    for wire, field_schema in schema.get("properties", {}).items():
        resolved = resolve(document, field_schema) or {}
        kind = types.expression(resolved, hint + class_name(wire))
        if kind == "bytes" or _is_file(resolved):
            kind = "Upload"
        arguments.append(Argument(unique(snake_name(wire), taken), wire, kind, wire in required))
    return arguments


def _is_file(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    if schema.get("format") == "binary" or "contentMediaType" in schema or "contentEncoding" in schema:
        return True
    return any(_is_file(member) for member in schema.get("anyOf", ()))


def _answer(document: Schema, types: SchemaTypes, responses: Mapping[str, Any], hint: str) -> tuple[str, bool]:
    """The success answer's type, and whether it comes back as bytes (HTML, a file, a download)."""
    kinds: list[str] = []
    for status in sorted(code for code in responses if str(code).startswith("2")):
        response = resolve(document, responses[status]) or {}
        content: Mapping[str, Any] = response.get("content") or {}
        if not content:
            kinds.append("None")
        elif not all(_is_json(media) for media in content):
            return "bytes", True
        else:
            schema = next(iter(content.values())).get("schema", True)
            kinds.append(types.expression(schema, hint + "Answer"))
    unique_kinds = list(dict.fromkeys(kinds)) or ["Any"]
    return ("Any" if "Any" in unique_kinds else " | ".join(unique_kinds)), False


def _is_json(media: str) -> bool:
    kind = media.split(";", maxsplit=1)[0].strip().lower()
    return kind == JSON or kind.endswith("+json")
