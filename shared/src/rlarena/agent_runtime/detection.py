"""What an agent's code expects, read from its source: the evidence that picks a compatibility layer.

Standard library only (runs next to the agent). Each rule looks for something that can only fail
on the native interface, so a native agent is never misread: the native observation is a dict with
string keys and no attributes, and has no `mark`. A parameter the function assigns to again (e.g.
`observation = observation["observation"]`) proves nothing and is ignored.

- Kaggle: the observation read as `obs.board`, `obs.mark`, `obs.step` or `obs.remainingOverageTime`,
  or `obs["mark"]` / `obs.get("mark")`; or the configuration read by an attribute Kaggle defines
  (`config.columns`, `config.inarow`, `config.actTimeout` ...).
- The old rl-arena interface: the observation indexed by position (`observation[1]`,
  `observation[2:4]`), unpacked (`ball_x, ball_y, *rest = observation`) or made into an array
  whole (`np.asarray(observation)`, `torch.FloatTensor(observation)`).

Both return a short description of the evidence ("observation.mark"), or None when there is none
(including when the source cannot be read).

`read_file` parses a whole file once (a warm sandbox does it for the agent's files, without running
them): its functions are then found by their code's file, first line and name, not re-read and
re-parsed from the source of each function in each copy.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

KAGGLE_OBSERVATION_FIELDS = frozenset({"board", "mark", "step", "remainingOverageTime"})
KAGGLE_CONFIGURATION_FIELDS = frozenset(
    {"columns", "rows", "inarow", "actTimeout", "agentTimeout", "episodeSteps", "runTimeout", "timeout"}
)
_KAGGLE_ONLY_KEY = "mark"
# numpy's and PyTorch's: made from the whole native observation (a dict) they hold nothing useful.
ARRAY_CONSTRUCTORS = frozenset({"array", "asarray", "asanyarray", "tensor", "as_tensor", "Tensor", "FloatTensor"})


# (file, first line, name) -> the function's node, from files parsed whole by `read_file`.
_FUNCTIONS: dict[tuple[str, int, str], ast.FunctionDef | ast.AsyncFunctionDef] = {}


def read_file(filename: str, source: bytes) -> None:
    """Parse `source` (the file `filename`) whole and remember each of its functions."""
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            _FUNCTIONS.setdefault((filename, first, node.name), node)


def kaggle_evidence(function: Callable[..., Any]) -> str | None:
    parsed = _parse(function)
    if parsed is None:
        return None
    node, parameters = parsed
    observation = parameters[0] if parameters else None
    configuration = parameters[1] if len(parameters) > 1 else None
    for child in ast.walk(node):
        if isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name):
            if child.value.id == observation and child.attr in KAGGLE_OBSERVATION_FIELDS:
                return f"{observation}.{child.attr}"
            if child.value.id == configuration and child.attr in KAGGLE_CONFIGURATION_FIELDS:
                return f"{configuration}.{child.attr}"
        if _reads_key(child, observation, _KAGGLE_ONLY_KEY):
            return f'{observation}["{_KAGGLE_ONLY_KEY}"]'
    return None


def positional_evidence(function: Callable[..., Any]) -> str | None:
    parsed = _parse(function)
    if parsed is None or not parsed[1]:
        return None
    node, (observation, *_) = parsed
    for child in ast.walk(node):
        if isinstance(child, ast.Subscript) and _is_name(child.value, observation) and _is_position(child.slice):
            return f"{observation}[{ast.unparse(child.slice)}]"
        if isinstance(child, ast.Assign) and _is_name(child.value, observation) and _unpacks(child):
            return f"unpacking {observation}"
        if isinstance(child, ast.Call) and any(_is_name(argument, observation) for argument in child.args):
            name = _called_name(child.func)
            if name in ARRAY_CONSTRUCTORS:
                return f"{name}({observation})"
    return None


def _called_name(function: ast.expr) -> str | None:
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else None


def _unpacks(assignment: ast.Assign) -> bool:
    return any(isinstance(target, ast.Tuple | ast.List) for target in assignment.targets)


def _parse(function: Callable[..., Any]) -> tuple[ast.AST, list[str | None]] | None:
    """The function's node and its positional parameters as the caller fills them (a bound
    method's `self` left out; a parameter assigned to again in the body is None)."""
    try:  # the user's object may be anything, its attributes included: no evidence then
        bound = inspect.ismethod(function)
        code = getattr(function, "__func__", function)
        node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | None = _known(code)
        if node is None:
            tree = ast.parse(textwrap.dedent(inspect.getsource(code)))
            node = _find(tree, str(getattr(code, "__name__", "")))
    except Exception:
        return None
    if node is None:
        return None
    arguments = node.args
    names = [argument.arg for argument in (*arguments.posonlyargs, *arguments.args)]
    if bound:
        names = names[1:]
    rebound = {child.id for child in ast.walk(node) if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)}
    return node, [None if name in rebound else name for name in names]


def _known(function: Any) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    if not _FUNCTIONS or not inspect.isfunction(function):
        return None
    code = function.__code__
    return _FUNCTIONS.get((code.co_filename, code.co_firstlineno, code.co_name))


def _find(tree: ast.AST, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | None:
    for node in _functions(tree):
        if isinstance(node, ast.Lambda) and name == "<lambda>":
            return node
        if not isinstance(node, ast.Lambda) and node.name == name:
            return node
    return None


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield node


def _is_name(node: ast.AST, name: str | None) -> bool:
    return name is not None and isinstance(node, ast.Name) and node.id == name


def _is_position(index: ast.AST) -> bool:
    if isinstance(index, ast.Slice):
        return True
    if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub):
        index = index.operand
    return isinstance(index, ast.Constant) and isinstance(index.value, int) and not isinstance(index.value, bool)


def _reads_key(node: ast.AST, name: str | None, key: str) -> bool:
    if isinstance(node, ast.Subscript) and _is_name(node.value, name):
        return isinstance(node.slice, ast.Constant) and node.slice.value == key
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        first = node.args[0] if node.args else None
        return _is_name(node.func.value, name) and isinstance(first, ast.Constant) and first.value == key
    return False
