"""Does a JSON value have a Python type (a generated client's TypedDicts, lists, unions, Literals)?
What `mismatches` lists is where an answer of the API and its document disagree."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, NotRequired, Union


def mismatches(value: Any, kind: Any, where: str = "answer") -> list[str]:
    """Every place in `value` that is not of type `kind`, as "where: what"; [] when it conforms."""
    if kind is Any or (value is None and kind in (None, type(None))):
        return []
    origin = typing.get_origin(kind)
    if origin is Literal:
        return [] if value in typing.get_args(kind) else [f"{where}: {value!r:.80} is none of {typing.get_args(kind)}"]
    if origin in (Union, types.UnionType):
        options = [mismatches(value, member, where) for member in typing.get_args(kind)]
        return [] if any(not found for found in options) else [f"{where}: {value!r:.80} is not {kind}"]
    if origin in (list, dict):
        return _container(value, kind, where)
    if typing.is_typeddict(kind):
        return _typed_dict(value, kind, where)
    return _scalar(value, kind, where)


def _container(value: Any, kind: Any, where: str) -> list[str]:
    if typing.get_origin(kind) is list:
        if not isinstance(value, list):
            return [f"{where}: {value!r:.80} is not a list"]
        (item,) = typing.get_args(kind)
        return [problem for index, each in enumerate(value) for problem in mismatches(each, item, f"{where}[{index}]")]
    if not isinstance(value, dict):
        return [f"{where}: {value!r:.80} is not an object"]
    _, item = typing.get_args(kind)
    return [problem for key, each in value.items() for problem in mismatches(each, item, f"{where}.{key}")]


def _typed_dict(value: Any, kind: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: {value!r:.80} is not an object ({kind.__name__})"]
    problems = []
    fields = typing.get_type_hints(kind, include_extras=True)
    for key, field in fields.items():
        optional = typing.get_origin(field) is NotRequired
        if key not in value:
            if not optional:
                problems.append(f"{where}.{key}: missing ({kind.__name__} requires it)")
            continue
        problems += mismatches(value[key], typing.get_args(field)[0] if optional else field, f"{where}.{key}")
    problems += [f"{where}.{key}: not in {kind.__name__}" for key in value.keys() - fields.keys()]
    return problems


def _scalar(value: Any, kind: Any, where: str) -> list[str]:
    if kind is None:
        fits = value is None
    elif kind is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = isinstance(value, kind)
    return [] if fits else [f"{where}: {value!r:.80} is not {getattr(kind, '__name__', kind)}"]
