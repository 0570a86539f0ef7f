"""JSON Schema (OpenAPI 3.1's dialect) as Python type expressions: component schemas become
TypedDicts (objects with properties) or type aliases (enums, unions, arrays), and an object with
properties met inline becomes a TypedDict named after where it was met."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from typing import Any

from rlarena.api_client.names import class_name, is_plain_key, unique

Schema = Mapping[str, Any]

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


class SchemaTypes:
    """The component schemas of one document and every TypedDict or alias they need."""

    def __init__(self, document: Schema) -> None:
        self.document = document
        schemas: Mapping[str, Schema] = document.get("components", {}).get("schemas", {})
        self._taken: set[str] = set()
        self.names = {name: unique(class_name(name), self._taken) for name in sorted(schemas)}
        self.definitions: list[str] = []  # TypedDict classes: their annotations are read lazily
        self._aliases: dict[str, tuple[str, str]] = {}  # name -> (type expression, comment)
        for name in sorted(schemas):
            self._define(self.names[name], schemas[name])

    def expression(self, schema: Schema | bool, hint: str) -> str:
        """The Python type of a value `schema` describes; `hint` names an inline object's TypedDict."""
        if schema is True or not isinstance(schema, Mapping):
            return "Any"
        if "$ref" in schema:
            return self._referenced(str(schema["$ref"]), hint)
        if "const" in schema:
            return _literal([schema["const"]])
        if "enum" in schema:
            return _literal(list(schema["enum"]))
        combined = self._combined(schema, hint)
        return combined if combined is not None else self._typed(schema, hint)

    def _combined(self, schema: Schema, hint: str) -> str | None:
        """anyOf, oneOf, allOf and lists of types; None for a schema that is none of them."""
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return _union([self.expression(member, hint) for member in schema[key]])
        if "allOf" in schema:
            members = schema["allOf"]
            return self.expression(members[0], hint) if len(members) == 1 else "dict[str, Any]"
        kind = schema.get("type")
        if isinstance(kind, list):
            return _union([self.expression({**schema, "type": each}, hint) for each in kind])
        return None

    def _typed(self, schema: Schema, hint: str) -> str:
        kind = schema.get("type")
        if kind == "array":
            return f"list[{self.expression(schema.get('items', True), hint + 'Item')}]"
        if kind == "object" or "properties" in schema:
            return self._object(schema, hint)
        if kind == "string" and schema.get("format") == "binary":
            return "bytes"
        return _SCALARS.get(str(kind), "Any")

    def _referenced(self, reference: str, hint: str) -> str:
        if reference.startswith("#/components/schemas/"):
            name = reference.removeprefix("#/components/schemas/").replace("~1", "/").replace("~0", "~")
            if name in self.names:
                return self.names[name]
        target = resolve(self.document, {"$ref": reference})
        return self.expression(target, hint) if target is not None else "Any"

    def _object(self, schema: Schema, hint: str) -> str:
        if schema.get("properties"):
            name = unique(class_name(hint), self._taken)
            self.definitions.append(self._typed_dict(name, schema))
            return name
        extra = schema.get("additionalProperties", True)
        value = "Any" if extra is True or extra is False else self.expression(extra, hint + "Value")
        return f"dict[str, {value}]"

    def aliases(self) -> list[str]:
        """The type aliases, each after the aliases it names (evaluated at import, so that
        typing.get_type_hints can read the client's signatures); one in a cycle stays a string."""
        done: list[str] = []
        pending = dict(self._aliases)
        while pending:
            ready = [name for name, (value, _) in pending.items() if not (_names(value) & (pending.keys() - {name}))]
            for name in ready or list(pending):
                value, comment = pending.pop(name)
                recursive = name in _names(value) or not ready
                shown = json.dumps(value) if recursive else value
                done.append(f"{comment}{name}: TypeAlias = {shown}\n")
        return done

    def _define(self, name: str, schema: Schema) -> None:
        if isinstance(schema, Mapping) and schema.get("properties") and "$ref" not in schema:
            self.definitions.append(self._typed_dict(name, schema))
        else:
            self._aliases[name] = (self.expression(schema, name + "Value"), _comment(schema))

    def _typed_dict(self, name: str, schema: Schema) -> str:
        required = set(schema.get("required", ()))
        fields = {}
        for key, field in schema["properties"].items():
            kind = self.expression(field, name + class_name(key))
            fields[key] = kind if key in required else f"NotRequired[{kind}]"
        doc = docstring(_described(schema), "    ")
        if all(is_plain_key(key) for key in fields):
            lines = [f"{key}: {kind}" for key, kind in fields.items()]
            body = "".join(f"    {line}\n" for line in lines) or "    pass\n"
            return f"class {name}(TypedDict):\n{doc}{body}"
        items = "".join(f"        {json.dumps(key)}: {json.dumps(kind)},\n" for key, kind in fields.items())
        return f"{name} = TypedDict(\n    {json.dumps(name)},\n    {{\n{items}    }},\n)\n"


def _names(expression: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r'"[^"]*"', "", expression)))


def resolve(document: Schema, item: Any) -> Any:
    """`item`, or what its local "$ref" ("#/components/...") points at (followed through chains)."""
    seen = set()
    while isinstance(item, Mapping) and isinstance(item.get("$ref"), str) and item["$ref"].startswith("#/"):
        reference = item["$ref"]
        if reference in seen:
            return None
        seen.add(reference)
        target: Any = document
        for escaped in reference[2:].split("/"):
            part = escaped.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        item = target
    return item


def docstring(text: str, indent: str, gap: str = "\n") -> str:
    """A docstring at `indent`, wrapped to fit the line length, then `gap`; "" for no text."""
    text = " ".join(text.replace("\\", "\\\\").replace('"""', "'''").split())
    if not text:
        return ""
    lines = textwrap.wrap(text, width=100 - len(indent))
    if len(lines) == 1:
        return f'{indent}"""{_closed(lines[0])}"""\n{gap}'
    inner = "".join(f"{indent}{line}\n" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{inner}{indent}"""\n{gap}'


def _closed(line: str) -> str:
    return line + " " if line.endswith('"') else line


def _described(schema: Schema) -> str:
    return str(schema.get("description") or "")


def _comment(schema: Any) -> str:
    """The schema's description as comment lines, wrapped to fit the line length."""
    text = " ".join(str(schema.get("description") or "").split()) if isinstance(schema, Mapping) else ""
    return "".join(f"# {line}\n" for line in textwrap.wrap(text, width=98))


def _literal(values: list[Any]) -> str:
    plain = [value for value in values if value is not None and not isinstance(value, dict | list | float)]
    parts = [f"Literal[{', '.join(_python_literal(value) for value in plain)}]"] if plain else []
    if len(plain) < len(values) - values.count(None):
        parts.append("Any")  # a float, object or array in an enum: Literal cannot say it
    if None in values:
        parts.append("None")
    return _union(parts)


def _python_literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _union(members: list[str]) -> str:
    unique_members = list(dict.fromkeys(members))
    if "Any" in unique_members:
        return "Any"
    return " | ".join(unique_members) if unique_members else "Any"
