"""Python names for what an OpenAPI document names: classes in PascalCase, methods and arguments in
snake_case, never a keyword or a name the generated module itself uses."""

from __future__ import annotations

import keyword
import re

# Names the generated module defines or imports: a schema called "Any" must not shadow them.
RESERVED = frozenset(
    {"Any", "Literal", "NotRequired", "TypeAlias", "TypedDict", "cast", "Transport", "Upload", "ArenaApi"}
    | {"path_segment", "TIMEOUT_SECONDS", "annotations", "self", "str", "int", "float", "bool", "bytes"}
    | {"list", "dict", "tuple", "None", "object", "type"}
)


def class_name(text: str) -> str:
    """PascalCase: "page_Agent_" -> "PageAgent", "agent-list" -> "AgentList"."""
    words = [word for word in re.split(r"[^0-9A-Za-z]+", text) if word]
    name = "".join(word[0].upper() + word[1:] for word in words) or "Schema"
    if name[0].isdigit():
        name = f"Schema{name}"
    return f"{name}Schema" if name in RESERVED else name


def snake_name(text: str) -> str:
    """snake_case: "agentId" -> "agent_id", "page-size" -> "page_size"; a keyword or reserved name gets a "_"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", text)
    name = re.sub(r"[^0-9A-Za-z]+", "_", spaced).strip("_").lower() or "value"
    if name[0].isdigit():
        name = f"n_{name}"
    return f"{name}_" if keyword.iskeyword(name) or name in RESERVED else name


def is_plain_key(text: str) -> bool:
    """Whether `text` can be a field in a class-syntax TypedDict."""
    return text.isidentifier() and not keyword.iskeyword(text)


def unique(name: str, taken: set[str]) -> str:
    """`name`, or `name2`, `name3`... whichever `taken` does not hold yet; records it as taken."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}{number}"
    taken.add(candidate)
    return candidate
