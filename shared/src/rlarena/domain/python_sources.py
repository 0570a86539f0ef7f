"""The rules for uploaded Python source: does it compile, and which game does its entry point declare.

Pure and standard-library only, with no import of the rest of the package: the platform never
applies these rules to an upload in its own process (a 10 MiB file of `a=1` lines takes seconds
and gigabytes to compile, holding the interpreter lock all along). `adapters/source_check.py`
sends this module's own text to a sandboxed child interpreter (`python -I -S -c`) with limits and
reads back one JSON line. Tests apply the rules in process on small, trusted inputs.

Nothing here imports or runs the code: files are only compiled, and the declaration is read from
the syntax tree.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from typing import Any

# `ENVIRONMENT = "chess"` at the top level of the entry point declares which game the code plays.
ENVIRONMENT_CONSTANT = "ENVIRONMENT"
DECLARED_ENVIRONMENT_CAP = 100
# What a problem may quote of the user's line and of the compiler's message; the report must stay
# small (the child's output is capped) whatever the source holds.
_TEXT_CAP = 200
_MESSAGE_CAP = 300


@dataclass(frozen=True)
class PythonSource:
    path: str  # relative POSIX path inside the upload
    text: str  # decoded UTF-8 without NUL characters (the caller checks both)


@dataclass(frozen=True)
class SourceProblem:
    """Where and why a file does not compile (a syntax error, or code nested too deeply to compile)."""

    file: str
    line: int
    offset: int | None
    text: str | None
    message: str


@dataclass(frozen=True)
class SourceReport:
    """What checking an upload's Python files found: the first problem, or the entry point's declaration."""

    problem: SourceProblem | None = None
    declared_environment: str | None = None

    def to_json(self) -> dict[str, Any]:
        problem = self.problem
        return {
            "problem": None
            if problem is None
            else {
                "file": problem.file,
                "line": problem.line,
                "offset": problem.offset,
                "text": problem.text,
                "message": problem.message,
            },
            "environment": self.declared_environment,
        }

    @classmethod
    def from_json(cls, data: object) -> SourceReport:
        """The report as the child printed it; ValueError for anything that is not exactly that shape."""
        if not isinstance(data, dict):
            raise ValueError("the report is not an object")
        environment = data.get("environment")
        if environment is not None and not isinstance(environment, str):
            raise ValueError("environment is not a string")
        problem = data.get("problem")
        if problem is None:
            return cls(declared_environment=None if environment is None else environment[:DECLARED_ENVIRONMENT_CAP])
        if not isinstance(problem, dict):
            raise ValueError("problem is not an object")
        file, line = problem.get("file"), problem.get("line")
        offset, text, message = problem.get("offset"), problem.get("text"), problem.get("message")
        if not isinstance(file, str) or not isinstance(message, str):
            raise ValueError("problem has no file or message")
        if not isinstance(line, int) or isinstance(line, bool) or not (offset is None or _is_int(offset)):
            raise ValueError("problem line or offset is not an integer")
        if text is not None and not isinstance(text, str):
            raise ValueError("problem text is not a string")
        return cls(
            problem=SourceProblem(
                file=file,
                line=line,
                offset=offset,
                text=None if text is None else text[:_TEXT_CAP],
                message=message[:_MESSAGE_CAP],
            )
        )


def check_sources(sources: list[PythonSource]) -> SourceReport:
    """Compile every file, the entry point (first) first; stop at the first problem.

    Warnings are silenced so that -W error cannot turn them into failures. The entry point's
    syntax tree is built only when its text mentions ENVIRONMENT at all, and then compiled from
    that same tree, so the biggest file is never parsed twice.
    """
    declared: str | None = None
    for index, source in enumerate(sources):
        wants_declaration = index == 0 and ENVIRONMENT_CONSTANT in source.text
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if wants_declaration:
                    tree = ast.parse(source.text, source.path)
                    declared = declared_environment_of(tree)
                    compile(tree, source.path, "exec", dont_inherit=True)
                    del tree
                else:
                    compile(source.text, source.path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return SourceReport(problem=_syntax_problem(source, exc))
        except (RecursionError, MemoryError):  # the parser's and compiler's own guards, or the memory limit
            message = "the code is nested too deeply (or is too big) to compile"
            return SourceReport(problem=SourceProblem(source.path, 1, None, None, message))
    return SourceReport(declared_environment=declared)


def declared_environment(source: str) -> str | None:
    """The string literal last assigned to ENVIRONMENT at the module's top level, read without running it.

    Anything else (no such assignment, or a value that is not a literal string) declares nothing here;
    the probe reports the loaded module's value, which covers those.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return declared_environment_of(tree)


def declared_environment_of(tree: ast.Module) -> str | None:
    declared: str | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(_is_constant_name(target) for target in node.targets):
            value: ast.expr | None = node.value
        elif isinstance(node, ast.AnnAssign) and _is_constant_name(node.target) and node.value is not None:
            value = node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            declared = value.value[:DECLARED_ENVIRONMENT_CAP]
        else:
            declared = None  # a later non-literal assignment overrides an earlier literal one
    return declared


def _is_constant_name(target: ast.expr) -> bool:
    return isinstance(target, ast.Name) and target.id == ENVIRONMENT_CONSTANT


def _syntax_problem(source: PythonSource, exc: SyntaxError) -> SourceProblem:
    line = exc.lineno or 1
    text = exc.text
    if text is None and exc.lineno:  # compiled from a syntax tree: the compiler has no line to quote
        text = _line_of(source.text, exc.lineno)
    text = (text or "").rstrip("\r\n")[:_TEXT_CAP] or None
    return SourceProblem(source.path, line, exc.offset, text, str(exc.msg)[:_MESSAGE_CAP])


def _line_of(text: str, number: int) -> str | None:
    start = 0
    for _ in range(number - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return None
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)][: _TEXT_CAP + 1]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
