"""Load a user's agent from its folder and find which interface it offers.

Standard library only: this runs inside the sandboxed child and in agent containers, next to the
user's code and none of the platform's dependencies.

Accepted forms, in order of precedence (the first one present wins, so a module that offers
several is not an error):

1. a function `agent(observation, configuration)` returning the action (Kaggle style);
2. a function `create_agent(player_id=...)`, or `create_agent()`, returning an object;
3. a class `Agent`, constructed with `player_id=` when it accepts it, else without arguments;
4. exactly one class defined in the entry module itself (imported classes do not count, nor a
   base class whose subclass is also defined there), whatever its name.

Objects are driven through `act`, else `get_action`, else `predict`, called with the
observation, plus the configuration when the method (or the `agent` function) takes a second
positional argument.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# Fixed, so the platform always knows where the agent lives; unusual, so no upload collides.
MODULE_NAME = "rlarena_user_agent"
ACTION_METHODS = ("act", "get_action", "predict")
ACCEPTED_FORMS = (
    "a function `agent(observation, configuration)` that returns the action",
    "a function `create_agent(player_id)` (or `create_agent()`) that returns an object with an "
    "act(observation), get_action(observation) or predict(observation) method",
    "a class `Agent` with an act(observation), get_action(observation) or predict(observation) method",
    "exactly one class of your own (defined in the entry file) with one of those methods",
)

_Call = Callable[[Any, Mapping[str, Any]], Any]


class AgentLoadError(Exception):
    """The agent cannot be used; `message` tells the user what to fix, `user_traceback` shows
    where their code failed (empty when no code of theirs raised)."""

    def __init__(self, message: str, *, user_traceback: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.user_traceback = user_traceback


class LoadedAgent:
    """An agent ready to play: `act(observation, configuration)` returns its action."""

    def __init__(self, interface: str, method: str, target: str, call: _Call) -> None:
        self.interface = interface  # "function", "create_agent", "Agent class" or "single class"
        self.method = method  # the callable driven each turn: "agent", "act", "get_action", "predict"
        self.target = target  # for people, e.g. "PongAgent().act"
        self._call = call

    def act(self, observation: Any, configuration: Mapping[str, Any]) -> Any:
        return self._call(observation, configuration)

    def __repr__(self) -> str:
        return f"LoadedAgent(interface={self.interface!r}, target={self.target!r})"


def load_agent(folder: Path, entry_point: str, player_id: int = 0) -> LoadedAgent:
    """Import `entry_point` (a path relative to `folder`) and resolve its interface."""
    module = import_entry_point(folder, entry_point)
    return resolve_interface(module, player_id, entry_point)


def import_entry_point(folder: Path, entry_point: str) -> types.ModuleType:
    root = folder.resolve()
    path = (root / entry_point).resolve()
    if not path.is_relative_to(root):
        raise AgentLoadError(f"the entry point {entry_point!r} points outside the agent's folder")
    if path.suffix != ".py" or not path.is_file():
        raise AgentLoadError(f"the entry point {entry_point!r} is not a Python file of the upload")
    # The agent's folder first, so its own modules and vendored packages win over anything else.
    for directory in dict.fromkeys((str(path.parent), str(root))):
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
        raise AgentLoadError(f"the entry point {entry_point!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as a normal import would: dataclasses and pickle look it up.
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        sys.modules.pop(MODULE_NAME, None)
        raise AgentLoadError(
            f"importing {entry_point} failed: {_summary(error)}", user_traceback=format_user_traceback(error)
        ) from error
    return module


def resolve_interface(module: types.ModuleType, player_id: int, entry_point: str = "the entry file") -> LoadedAgent:
    """Apply the documented precedence; see the module docstring."""
    notes: list[str] = []
    function = getattr(module, "agent", None)
    if callable(function) and not inspect.isclass(function):
        return LoadedAgent("function", "agent", "agent(observation, configuration)", _adapt(function, "agent", 2))
    if function is not None:
        notes.append("`agent` is not a function")
    factory = getattr(module, "create_agent", None)
    if callable(factory):
        return _from_instance("create_agent", *_instantiate(factory, "create_agent", player_id))
    cls = getattr(module, "Agent", None)
    if inspect.isclass(cls):
        if _action_method_name(cls) is not None:
            return _from_instance("Agent class", *_instantiate(cls, "Agent", player_id))
        notes.append(f"class Agent has none of the methods {', '.join(ACTION_METHODS)}")
    candidates = _own_agent_classes(module)
    if len(candidates) == 1:
        only = candidates[0]
        return _from_instance("single class", *_instantiate(only, only.__name__, player_id))
    if candidates:
        names = ", ".join(sorted(c.__name__ for c in candidates))
        raise AgentLoadError(
            f"{entry_point} defines several agent classes ({names}) and none is named Agent: "
            "rename the one to use to `Agent`, or add a `create_agent()` function that returns it"
        )
    forms = "\n".join(f"  {number}. {form}" for number, form in enumerate(ACCEPTED_FORMS, start=1))
    extra = f" ({'; '.join(notes)})" if notes else ""
    raise AgentLoadError(
        f"no agent found in {entry_point}{extra}. Define one of these, checked in this order:\n{forms}"
    )


def format_user_traceback(error: BaseException) -> str:
    """The traceback as Python prints it, without the leading frames of the loader and importlib,
    so the user sees their own code first."""
    report = traceback.TracebackException.from_exception(error)
    frames = list(report.stack)
    while frames and _is_platform_frame(frames[0].filename):
        frames.pop(0)
    report.stack = traceback.StackSummary.from_list(frames)
    return "".join(report.format())


def _is_platform_frame(filename: str) -> bool:
    return filename.startswith("<frozen importlib") or Path(filename).parent == Path(__file__).parent


def _summary(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"the module called sys.exit({error.code!r}) while being imported"
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if isinstance(error, ModuleNotFoundError):
        text += " (list the package in requirements.txt, or include the module in the upload)"
    return text


def _instantiate(factory: Callable[..., Any], name: str, player_id: int) -> tuple[Any, str]:
    """Call a factory or class with `player_id=` when it takes it, else with no arguments."""
    if _accepts_player_id(factory):
        kwargs: dict[str, Any] = {"player_id": player_id}
        shown = f"{name}(player_id={player_id})"
    else:
        kwargs, shown = {}, f"{name}()"
    try:
        return factory(**kwargs), shown
    except (Exception, SystemExit) as error:
        hint = f"; {name} must accept player_id= or no arguments" if isinstance(error, TypeError) else ""
        raise AgentLoadError(
            f"{shown} failed: {_summary(error)}{hint}", user_traceback=format_user_traceback(error)
        ) from error


def _accepts_player_id(factory: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # not introspectable (C code): try without arguments
        return False
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return any(
        (p.name == "player_id" and p.kind in keyword) or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )


def _from_instance(interface: str, instance: Any, shown: str) -> LoadedAgent:
    method_name = _action_method_name(instance)
    if method_name is None:
        raise AgentLoadError(
            f"{shown} returned a {type(instance).__name__}, which has none of the methods "
            f"{', '.join(ACTION_METHODS)}: add `def act(self, observation)` returning the action"
        )
    method = getattr(instance, method_name)
    return LoadedAgent(interface, method_name, f"{shown}.{method_name}", _adapt(method, method_name, 1))


def _action_method_name(obj: Any) -> str | None:
    for name in ACTION_METHODS:
        try:
            if callable(getattr(obj, name, None)):
                return name
        except Exception:  # noqa: S112 - a property of the user's that raises is not a method
            continue
    return None


def _own_agent_classes(module: types.ModuleType) -> list[type]:
    own: list[type] = []
    for value in vars(module).values():
        defined_here = inspect.isclass(value) and value.__module__ == module.__name__
        if defined_here and not any(value is c for c in own) and _action_method_name(value) is not None:
            own.append(value)
    # A base class and its subclass both defined here: the subclass is the agent.
    return [cls for cls in own if not any(other is not cls and issubclass(other, cls) for other in own)]


def _adapt(function: Callable[..., Any], name: str, default_arity: int) -> _Call:
    """Call with the configuration only when the callable takes a second positional argument."""
    arity = _positional_arity(function, default_arity)
    if arity == 0:
        raise AgentLoadError(f"{name} must take the observation as its first argument")
    if arity == 1:
        return lambda observation, configuration: function(observation)
    return function


def _positional_arity(function: Callable[..., Any], default: int) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return default
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    count = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return 2
        if parameter.kind in positional:
            count += 1
    return min(count, 2)
