"""Load a user's agent from its folder and find which interface it offers.

Standard library only: this runs inside the sandboxed child and in agent containers, next to the
user's code and none of the platform's dependencies.

Accepted forms, in order of precedence (the first one present wins, so a module that offers
several is not an error):

1. a function `agent(observation, configuration)` returning the action (Kaggle style);
2. a function `create_agent(player_id=...)`, or `create_agent()`, returning an object;
3. a class `Agent`, constructed with `player_id=` when it accepts it, else without arguments;
4. exactly one class defined in the entry module itself (imported classes do not count, nor a
   base class whose subclass is also defined there), whatever its name;
5. otherwise, Kaggle's rule: the last function defined in the entry module itself (or a callable
   object of a class defined there), played through the Kaggle layer.

Objects are driven through `act`, else `get_action`, else `predict`, called with the
observation, plus the configuration when the method (or the function) takes a second
positional argument.

Layers translate what the agent is given and returns (`rlarena.agent_runtime.kaggle`,
`rlarena.agent_runtime.legacy`). A module-level `INTERFACE = "native" | "kaggle" | "rl-arena-v1"`
chooses one; without it the agent's own code decides, conservatively
(`rlarena.agent_runtime.detection`): an `agent` function, or a last function next to an agent
class, that reads Kaggle's fields gets the Kaggle layer; an agent object whose action method
indexes the observation by position gets the old rl-arena one; anything else is native.
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

from rlarena.agent_runtime import detection, kaggle, legacy

# Fixed, so the platform always knows where the agent lives; unusual, so no upload collides.
MODULE_NAME = "rlarena_user_agent"
ACTION_METHODS = ("act", "get_action", "predict")
ACCEPTED_FORMS = (
    "a function `agent(observation, configuration)` that returns the action",
    "a function `create_agent(player_id)` (or `create_agent()`) that returns an object with an "
    "act(observation), get_action(observation) or predict(observation) method",
    "a class `Agent` with an act(observation), get_action(observation) or predict(observation) method",
    "exactly one class of your own (defined in the entry file) with one of those methods",
    "otherwise, Kaggle's rule: the last function defined in the entry file, called as "
    "`f(obs, config)` with Kaggle's observation (docs/agents.md: Coming from Kaggle or the old rl-arena)",
)
INTERFACE_CONSTANT = "INTERFACE"
NATIVE = "native"
LAYERS = (NATIVE, kaggle.NAME, legacy.NAME)

_Call = Callable[[Any, Mapping[str, Any]], Any]
# A turn as the layers take it: the native observation, configuration and remaining overage bank.
_Turn = Callable[[Any, Mapping[str, Any], "float | None"], Any]


class AgentLoadError(Exception):
    """The agent cannot be used; `message` tells the user what to fix, `user_traceback` shows
    where their code failed (empty when no code of theirs raised)."""

    def __init__(self, message: str, *, user_traceback: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.user_traceback = user_traceback


class LoadedAgent:
    """An agent ready to play: `act(observation, configuration)` returns its action, through its layer."""

    def __init__(self, interface: str, method: str, target: str, call: _Call, layer: str = NATIVE) -> None:
        # "function", "create_agent", "Agent class" or "single class"; for another layer than the
        # native one, e.g. "kaggle layer, last callable: no native form in the file"
        self.interface = interface
        self.method = method  # the callable driven each turn: "agent", "act", "get_action", "predict"
        self.target = target  # for people, e.g. "PongAgent().act"
        self.layer = layer  # one of LAYERS
        self.call = call  # the user's callable as it takes (observation, configuration), before the layer
        self._turn: _Turn = _through(layer, call)

    def act(self, observation: Any, configuration: Mapping[str, Any], remaining_overage: float | None = None) -> Any:
        return self._turn(observation, configuration, remaining_overage)

    def __repr__(self) -> str:
        return f"LoadedAgent(interface={self.interface!r}, target={self.target!r}, layer={self.layer!r})"


def _through(layer: str, call: _Call) -> _Turn:
    if layer == kaggle.NAME:
        return kaggle.adapt(call)
    if layer == legacy.NAME:
        return legacy.adapt(call)
    return lambda observation, configuration, remaining_overage: call(observation, configuration)


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
    """Apply the documented precedence and choose the layer; see the module docstring."""
    declared = _declared_layer(module, entry_point)
    if declared == kaggle.NAME:
        return _kaggle_agent(module, entry_point, f"{INTERFACE_CONSTANT} = {declared!r}")
    notes: list[str] = []
    loaded = _function_agent(module, declared, notes) or _object_form(module, declared, player_id, entry_point, notes)
    if loaded is not None:
        return loaded
    if not declared and kaggle_candidate(module) is not None:
        return _kaggle_agent(module, entry_point, "no native form in the file")
    forms = "\n".join(f"  {number}. {form}" for number, form in enumerate(ACCEPTED_FORMS, start=1))
    extra = f" ({'; '.join(notes)})" if notes else ""
    raise AgentLoadError(
        f"no agent found in {entry_point}{extra}. Define one of these, checked in this order:\n{forms}"
    )


def _function_agent(module: types.ModuleType, declared: str | None, notes: list[str]) -> LoadedAgent | None:
    """Form 1, through the Kaggle layer when undeclared and it reads Kaggle's fields."""
    function = getattr(module, "agent", None)
    if not callable(function) or inspect.isclass(function):
        if function is not None:
            notes.append("`agent` is not a function")
        return None
    evidence = None if declared else detection.kaggle_evidence(function)
    if evidence:
        return _layered(kaggle.NAME, "function", f"agent reads {evidence}", "agent", function)
    loaded = LoadedAgent("function", "agent", "agent(observation, configuration)", _adapt(function, "agent", 2))
    return _declared(loaded, declared)


def _object_form(
    module: types.ModuleType, declared: str | None, player_id: int, entry_point: str, notes: list[str]
) -> LoadedAgent | None:
    """Forms 2 to 4; before the classes, a last function reading Kaggle's fields wins (Kaggle's rule)."""
    factory = getattr(module, "create_agent", None)
    if callable(factory):
        return _object_agent(declared, "create_agent", *_instantiate(factory, "create_agent", player_id))
    last = None if declared else kaggle_candidate(module)
    if last is not None and (evidence := detection.kaggle_evidence(last[1])):
        return _layered(kaggle.NAME, "last callable", f"{last[0]} reads {evidence}", last[0], last[1])
    cls = getattr(module, "Agent", None)
    if inspect.isclass(cls):
        if _action_method_name(cls) is not None:
            return _object_agent(declared, "Agent class", *_instantiate(cls, "Agent", player_id))
        notes.append(f"class Agent has none of the methods {', '.join(ACTION_METHODS)}")
    candidates = _own_agent_classes(module)
    if len(candidates) == 1:
        only = candidates[0]
        return _object_agent(declared, "single class", *_instantiate(only, only.__name__, player_id))
    if candidates:
        names = ", ".join(sorted(c.__name__ for c in candidates))
        raise AgentLoadError(
            f"{entry_point} defines several agent classes ({names}) and none is named Agent: "
            "rename the one to use to `Agent`, or add a `create_agent()` function that returns it"
        )
    return None


def kaggle_candidate(module: types.ModuleType) -> tuple[str, Callable[..., Any]] | None:
    """Kaggle's agent: the last callable defined in the module itself, by name and value. Classes
    and what the module imported do not count; a callable object of the module's own class does."""
    found = None
    for name, value in list(vars(module).items()):
        if name.startswith("__") or inspect.isclass(value) or not callable(value):
            continue
        owner = value if inspect.isfunction(value) else type(value)
        if getattr(owner, "__module__", None) == module.__name__:
            found = (name, value)
    return found


def _declared_layer(module: types.ModuleType, entry_point: str) -> str | None:
    try:  # the module's own __getattr__ may raise
        declared = getattr(module, INTERFACE_CONSTANT, None)
    except Exception:
        return None
    if declared is None:
        return None
    if not isinstance(declared, str) or declared.strip().lower() not in LAYERS:
        choices = ", ".join(repr(layer) for layer in LAYERS)
        raise AgentLoadError(f"{entry_point} sets {INTERFACE_CONSTANT} = {declared!r}: use one of {choices}")
    return declared.strip().lower()


def _kaggle_agent(module: types.ModuleType, entry_point: str, why: str) -> LoadedAgent:
    function = getattr(module, "agent", None)
    if inspect.isfunction(function) and function.__module__ == module.__name__:
        return _layered(kaggle.NAME, "function", why, "agent", function)
    candidate = kaggle_candidate(module)
    if candidate is None:
        raise AgentLoadError(
            f"{entry_point} declares {INTERFACE_CONSTANT} = 'kaggle' but defines no function: "
            "define `def agent(obs, config)` (Kaggle plays the last function of the file)"
        )
    return _layered(kaggle.NAME, "last callable", why, *candidate)


def _layered(layer: str, form: str, why: str, name: str, function: Callable[..., Any]) -> LoadedAgent:
    return LoadedAgent(f"{layer} layer, {form}: {why}", name, f"{name}(obs, config)", _adapt(function, name, 2), layer)


def _object_agent(declared: str | None, form: str, instance: Any, shown: str) -> LoadedAgent:
    """A native object form, through the old rl-arena layer when declared or when its action
    method reads the observation by position."""
    loaded = _from_instance(form, instance, shown)
    if declared:
        return _declared(loaded, declared)
    evidence = detection.positional_evidence(getattr(instance, loaded.method))
    if evidence is None:
        return loaded
    why = f"{loaded.method} reads {evidence}"
    return LoadedAgent(f"{legacy.NAME} layer, {form}: {why}", loaded.method, loaded.target, loaded.call, legacy.NAME)


def _declared(loaded: LoadedAgent, declared: str | None) -> LoadedAgent:
    if declared is None or declared == NATIVE:
        return loaded
    why = f"{INTERFACE_CONSTANT} = {declared!r}"
    return LoadedAgent(
        f"{declared} layer, {loaded.interface}: {why}", loaded.method, loaded.target, loaded.call, declared
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
