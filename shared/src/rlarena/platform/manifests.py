"""Reads the Knative manifests so the local platform routes exactly as the cluster does.

Triggers (with their Broker's delivery defaults), PingSources and the HTTPRoute are the single
source of truth for who receives which event and which function serves which path; the local
platform never keeps a second copy of that table. Anything here the local platform cannot honour
faithfully is refused with a `ManifestError` naming the file rather than approximated silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml
from cloudevents.http import CloudEvent

from rlarena.errors import ConfigurationError

EVENTING_API = "eventing.knative.dev/v1"
SOURCES_API = "sources.knative.dev/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"

DEFAULT_NAMESPACE = "rlarena"
DEFAULT_BACKOFF_DELAY = timedelta(seconds=0.2)
_KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml"})
_YAML_SUFFIXES = frozenset({".yaml", ".yml"})

BackoffPolicy = Literal["exponential", "linear"]
PathMatch = Literal["Exact", "PathPrefix"]


class ManifestError(ConfigurationError):
    """A manifest the local platform cannot read; the message names the file, the object and the field."""

    code = "manifest_error"


class _Document(dict[str, Any]):
    """A manifest that remembers where it came from, so errors can point at the file."""

    __slots__ = ("origin",)

    def __init__(self, content: Mapping[str, Any], origin: str) -> None:
        super().__init__(content)
        self.origin = origin


def load_documents(directory: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document below `directory`, in sorted path order, kustomization files excepted."""
    if not directory.is_dir():
        raise ManifestError(f"{directory}: the Knative manifest directory does not exist")
    paths = sorted(
        path
        for path in directory.rglob("*")
        if path.suffix in _YAML_SUFFIXES and path.name not in _KUSTOMIZATION_FILES and path.is_file()
    )
    documents: list[dict[str, Any]] = []
    for path in paths:
        try:
            contents = [content for content in yaml.safe_load_all(path.read_text(encoding="utf-8")) if content]
        except yaml.YAMLError as error:
            raise ManifestError(f"{path}: not valid YAML: {error}") from None
        for number, content in enumerate(contents, start=1):
            origin = f"{path} (document {number})" if len(contents) > 1 else str(path)
            if not isinstance(content, dict):
                raise ManifestError(f"{origin}: expected a Kubernetes object, found a {type(content).__name__}")
            documents.append(_Document(content, origin))
    return documents


def parse_iso_duration(text: str) -> timedelta:
    """An ISO-8601 duration such as "PT0.5S", "PT2S", "PT1M" or "P1DT2H" (no years or months: no fixed length)."""
    found = _ISO_DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not an ISO-8601 duration such as PT0.5S, PT2S or PT1M")
    seconds = 0.0
    for unit, number in found.groupdict().items():
        if number is not None:
            seconds += float(number.replace(",", ".")) * _ISO_UNIT_SECONDS[unit]
    return timedelta(seconds=seconds)


_NUMBER = r"\d+(?:[.,]\d+)?"
# The lookaheads refuse the empty forms "P" and "PT", which name no duration at all.
_ISO_DURATION = re.compile(
    rf"P(?=[\d.,]*[WDT])(?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?=\d)(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?"
)
_ISO_UNIT_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


_ROOT: Any = object()  # "read from the document itself", distinct from a nested value that is None


class _Fields:
    """Typed access to one manifest's fields; every complaint names the file, the object and the field."""

    def __init__(self, document: Mapping[str, Any], origin: str) -> None:
        self._document = document
        self._where = f"{origin}: {document.get('kind', 'object')}"
        self.name = self.text("metadata.name")
        self._where = f"{self._where} {self.name!r}"

    def fail(self, problem: str) -> NoReturn:
        raise ManifestError(f"{self._where}: {problem}", details={"manifest": self._where})

    def get(self, dotted: str, within: Any = _ROOT, at: str = "") -> Any:
        """The value at `dotted` (below `within`, itself found at `at`), or None where any step is missing."""
        value: Any = self._document if within is _ROOT else within
        walked = [at] if at else []
        for key in dotted.split("."):
            if value is None:
                return None
            if not isinstance(value, Mapping):
                self.fail(f"{'.'.join(walked) or 'the document'} must be a mapping")
            walked.append(key)
            value = value.get(key)
        return value

    def text(self, dotted: str, *, default: str | None = None, within: Any = _ROOT, at: str = "") -> str:
        value = self.get(dotted, within, at)
        label = f"{at}.{dotted}" if at else dotted
        if value is None:
            if default is None:
                self.fail(f"{label} is required")
            return default
        if not isinstance(value, str):
            self.fail(f"{label} must be a string (quote it in the YAML), found {value!r}")
        return value


def _origin(document: Mapping[str, Any], index: int) -> str:
    origin = getattr(document, "origin", None)
    return origin if isinstance(origin, str) else f"manifest document {index + 1}"


def _objects(documents: Iterable[Mapping[str, Any]], kind: str, api_version: str) -> list[_Fields]:
    return [
        _Fields(document, _origin(document, index))
        for index, document in enumerate(documents)
        if document.get("kind") == kind and document.get("apiVersion") == api_version
    ]


# --- Eventing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Delivery:
    retry: int = 0
    backoff_policy: BackoffPolicy = "exponential"
    backoff_delay: timedelta = DEFAULT_BACKOFF_DELAY
    dead_letter: str | None = None


def _delivery(fields: _Fields, spec: Any) -> _Delivery:
    at = "spec.delivery"
    retry = fields.get("retry", spec, at)
    if retry is None:
        retry = 0
    if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
        fields.fail(f"spec.delivery.retry must be a whole number of retries (0 or more), found {retry!r}")
    policy = fields.text("backoffPolicy", default="exponential", within=spec, at=at)
    if policy not in ("exponential", "linear"):
        fields.fail(f"spec.delivery.backoffPolicy must be exponential or linear, found {policy!r}")
    delay = DEFAULT_BACKOFF_DELAY
    delay_text = fields.get("backoffDelay", spec, at)
    if delay_text is not None:
        try:
            delay = parse_iso_duration(str(delay_text))
        except ValueError as error:
            fields.fail(f"spec.delivery.backoffDelay: {error}")
    dead_letter = fields.get("deadLetterSink.ref.name", spec, at) or fields.get("deadLetterSink.uri", spec, at)
    if dead_letter is not None and not isinstance(dead_letter, str):
        fields.fail("spec.delivery.deadLetterSink must name a ref or a uri")
    return _Delivery(retry, "linear" if policy == "linear" else "exponential", delay, dead_letter)


@dataclass(frozen=True)
class Trigger:
    """One Knative Trigger: which events (by exact attribute filter) go to which subscriber, and how hard to try."""

    name: str
    broker: str
    # Unhashable, so left out of the hash; the trigger's name identifies it anyway.
    filters: dict[str, str] = field(hash=False)
    subscriber: str
    subscriber_path: str = ""
    retry: int = 0
    backoff_policy: BackoffPolicy = "exponential"
    backoff_delay: timedelta = DEFAULT_BACKOFF_DELAY
    dead_letter: str | None = None

    def matches(self, event: CloudEvent) -> bool:
        """Knative's attribute filter: every attribute (extensions too) present and exactly equal.

        An empty filter value, as in Knative, means "present with any non-empty value".
        """
        for name, wanted in self.filters.items():
            value = event.get(name)
            if value is None:
                return False
            actual = _attribute_text(value)
            # An unset (empty) attribute never matches; an empty filter value accepts any other value.
            if actual == "" or (wanted and actual != wanted):
                return False
        return True


def _attribute_text(value: Any) -> str:
    # On the wire every attribute is a string; compare in that form so an extension set as a
    # Python bool or int filters as it would once sent to the cluster.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def triggers(documents: Iterable[Mapping[str, Any]]) -> list[Trigger]:
    """The Triggers among `documents`; one without `spec.delivery` inherits its Broker's."""
    documents = list(documents)
    broker_delivery = {
        broker.name: _delivery(broker, spec)
        for broker in _objects(documents, "Broker", EVENTING_API)
        if (spec := broker.get("spec.delivery")) is not None
    }
    found: list[Trigger] = []
    for fields in _objects(documents, "Trigger", EVENTING_API):
        broker = fields.text("spec.broker")
        own = fields.get("spec.delivery")
        delivery = _delivery(fields, own) if own is not None else broker_delivery.get(broker, _Delivery())
        found.append(
            Trigger(
                name=fields.name,
                broker=broker,
                filters=_filters(fields),
                subscriber=fields.text("spec.subscriber.ref.name"),
                subscriber_path=fields.text("spec.subscriber.uri", default=""),
                retry=delivery.retry,
                backoff_policy=delivery.backoff_policy,
                backoff_delay=delivery.backoff_delay,
                dead_letter=delivery.dead_letter,
            )
        )
    return found


def _filters(fields: _Fields) -> dict[str, str]:
    # The newer `spec.filters` dialect (prefix, suffix, any, not, CESQL) would be ignored here, widening
    # what the trigger receives, so it is refused until the local broker implements it.
    if fields.get("spec.filters") is not None:
        fields.fail("spec.filters is not supported by the local platform; use spec.filter.attributes")
    attributes = fields.get("spec.filter.attributes")
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        fields.fail("spec.filter.attributes must be a mapping of attribute name to value")
    filters: dict[str, str] = {}
    for name, value in attributes.items():
        if not isinstance(value, str):
            fields.fail(f"spec.filter.attributes.{name} must be a string (quote it in the YAML), found {value!r}")
        filters[str(name)] = value
    return filters


@dataclass(frozen=True)
class PingSource:
    """One Knative PingSource: a cron schedule and the fixed event it sends to its sink."""

    name: str
    namespace: str
    schedule: str
    content_type: str
    data: str
    sink_kind: str
    sink_name: str


def ping_sources(documents: Iterable[Mapping[str, Any]], namespace: str = DEFAULT_NAMESPACE) -> list[PingSource]:
    found: list[PingSource] = []
    for fields in _objects(documents, "PingSource", SOURCES_API):
        # The local timer runs in UTC; a zone here would make it fire at a different hour than the cluster.
        if fields.get("spec.timezone") not in (None, "", "UTC", "Etc/UTC"):
            fields.fail("spec.timezone is not supported by the local platform; schedules run in UTC")
        if fields.get("spec.dataBase64") is not None:
            fields.fail("spec.dataBase64 is not supported by the local platform; use spec.data")
        found.append(
            PingSource(
                name=fields.name,
                namespace=fields.text("metadata.namespace", default=namespace),
                schedule=fields.text("spec.schedule"),
                content_type=fields.text("spec.contentType", default=""),
                data=fields.text("spec.data", default=""),
                sink_kind=fields.text("spec.sink.ref.kind"),
                sink_name=fields.text("spec.sink.ref.name"),
            )
        )
    return found


# --- Routing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    match: PathMatch
    path: str
    backend: str


@dataclass(frozen=True)
class RouteTable:
    """Path routing from HTTPRoutes with Gateway API precedence: Exact, then the longest PathPrefix."""

    routes: tuple[Route, ...] = ()

    def resolve(self, path: str) -> str | None:
        """The backend serving `path` (a query string or fragment is ignored), or None if no rule matches."""
        path = path.split("?", 1)[0].split("#", 1)[0] or "/"
        best: Route | None = None
        best_length = -1
        for route in self.routes:
            if route.match == "Exact":
                if route.path == path:
                    return route.backend
                continue
            # Prefixes match whole segments: /api/v1/agents covers /api/v1/agents/7 but not /api/v1/agentsx.
            prefix = route.path.rstrip("/")
            if (not prefix or path == prefix or path.startswith(prefix + "/")) and len(prefix) > best_length:
                best, best_length = route, len(prefix)
        return best.backend if best else None

    def backends(self) -> set[str]:
        return {route.backend for route in self.routes}


def route_table(documents: Iterable[Mapping[str, Any]]) -> RouteTable:
    routes: list[Route] = []
    claimed: dict[tuple[str, str], tuple[str, str]] = {}  # (match, normalised path) -> (backend, where)
    for fields in _objects(documents, "HTTPRoute", GATEWAY_API):
        rules = fields.get("spec.rules") or []
        if not isinstance(rules, list):
            fields.fail("spec.rules must be a list")
        for number, rule in enumerate(rules):
            where = f"spec.rules[{number}]"
            backend = _backend(fields, rule, where)
            # Gateway API: a rule without matches (or a match without a path) is PathPrefix "/".
            matches = fields.get("matches", rule, where) or [{}]
            if not isinstance(matches, list):
                fields.fail(f"{where}.matches must be a list")
            for index, match in enumerate(matches):
                route = _route(fields, match, backend, f"{where}.matches[{index}]")
                key = (route.match, route.path.rstrip("/") if route.match == "PathPrefix" else route.path)
                earlier = claimed.get(key)
                if earlier and earlier[0] != backend:
                    fields.fail(
                        f"{route.match} {route.path} is routed to {backend!r} but also to {earlier[0]!r} "
                        f"({earlier[1]}); the cluster would pick one arbitrarily"
                    )
                claimed[key] = (backend, f"{fields.name} {where}")
                routes.append(route)
    return RouteTable(tuple(routes))


def _backend(fields: _Fields, rule: Any, where: str) -> str:
    if not isinstance(rule, Mapping):
        fields.fail(f"{where} must be a mapping")
    backends = rule.get("backendRefs")
    if not isinstance(backends, list) or not backends:
        fields.fail(f"{where}.backendRefs must list at least one backend")
    return fields.text("name", within=backends[0], at=f"{where}.backendRefs[0]")


def _route(fields: _Fields, match: Any, backend: str, where: str) -> Route:
    if not isinstance(match, Mapping):
        fields.fail(f"{where} must be a mapping")
    # Routing on anything but the path would need request details the local router does not consult.
    unsupported = sorted(set(match) - {"path"})
    if unsupported:
        fields.fail(f"{where}: only path matches are supported by the local platform, found {', '.join(unsupported)}")
    path_match = match.get("path") or {}
    kind = fields.text("type", default="PathPrefix", within=path_match, at=f"{where}.path")
    value = fields.text("value", default="/", within=path_match, at=f"{where}.path")
    if kind not in ("Exact", "PathPrefix"):
        fields.fail(f"{where}.path.type {kind!r} is not supported; use Exact or PathPrefix")
    if not value.startswith("/"):
        fields.fail(f"{where}.path.value must start with '/', found {value!r}")
    return Route("Exact" if kind == "Exact" else "PathPrefix", value, backend)
