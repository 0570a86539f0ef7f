"""The manifests give the code what it needs in production, and RBAC grants what it calls, no more.

Every fact on the code's side is read from the code: the settings production refuses to run without
(by removing each one and running the code's own start-up checks), the ConfigMap's keys against the
settings model, and each component's Kubernetes API calls (scanned with `ast`, then mapped to the
API path the kubernetes client itself sends them to).
"""

from __future__ import annotations

import ast
import inspect
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

import pytest

from rlarena.adapters.builders.kaniko_jobs import S3_ACCESS_KEY_KEY, S3_SECRET_KEY_KEY, s3_endpoint_url
from rlarena.adapters.storage.factory import object_store_for
from rlarena.adapters.storage.minio_events import check_bearer
from rlarena.config import Settings
from rlarena.errors import ConfigurationError
from rlarena.events.publisher import UnconfiguredPublisher, publisher_for
from tests.conftest import ROOT
from tests.support.manifests import KNATIVE, OVERLAYS, _render

SOURCE = ROOT / "shared" / "src" / "rlarena"
DEPLOY = ROOT / "docs" / "DEPLOY.md"
CONFIG_MAP = "rlarena-config"

# Which ServiceAccount runs the Kubernetes calls of which part of the library. A module with a call
# outside these folders fails `test_every_kubernetes_call_belongs_to_a_component`.
COMPONENTS = {
    "builder": SOURCE / "adapters" / "builders",  # the `builder` and `builder-jobs` Services
    "executor": SOURCE / "executor" / "kubernetes",  # the match executor with USE_K8S=true
}

# Services whose code never publishes a CloudEvent, so the SinkBinding leaves them without K_SINK:
# auth and agents answer reads and writes of their own tables, dead-letters only logs, the relay
# only receives. Every other Service must get K_SINK.
PUBLISH_NOTHING = {"auth", "agents", "dead-letters", "ws-relay", "web"}

# Services that never open a database connection: dead-letters only logs; the executor keeps
# results in the object store and reports through the Broker; the web pages read the REST API.
NO_DATABASE = {"dead-letters", "executor", "web"}

# What an ApiServerSource needs on each resource it follows (Knative's documented Role for it).
SOURCE_VERBS = ("get", "list", "watch")

Grant = tuple[str, str, str]  # (apiGroup, resource, verb)


# -- the manifests ---------------------------------------------------------------------------------


def _kustomizations() -> list[Path]:
    """The top-level kustomization and every overlay there is: each is something a team applies."""
    return [KNATIVE, *(KNATIVE / "overlays" / name for name in OVERLAYS)]


@pytest.fixture(scope="module", params=_kustomizations(), ids=lambda p: str(p.relative_to(ROOT)))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return _render(request.param)


def _named(docs: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def _knative_services(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return _named((doc for doc in docs if doc["apiVersion"].startswith("serving.knative")), "Service")


def documented_secret_keys(secret: str) -> set[str]:
    """The keys docs/DEPLOY.md's `kubectl create secret generic <secret>` command gives the Secret."""
    text = DEPLOY.read_text()
    match = re.search(rf"kubectl[^\n]*create secret generic {re.escape(secret)}\b(.*?)(?:\n\s*\n|```)", text, re.S)
    assert match, f"docs/DEPLOY.md does not show how to create the Secret {secret}"
    return set(re.findall(r"--from-literal=([A-Z][A-Z0-9_]*)=", match.group(1)))


def _secret_keys(docs: list[dict[str, Any]], secret: str) -> set[str]:
    """A Secret's keys: from the rendered manifests when an overlay generates it, else from the docs."""
    rendered_secrets = _named(docs, "Secret")
    if secret in rendered_secrets:
        found = rendered_secrets[secret]
        return set(found.get("data") or {}) | set(found.get("stringData") or {})
    return documented_secret_keys(secret)


def _sink_bound(docs: list[dict[str, Any]], service: dict[str, Any]) -> bool:
    """Whether a SinkBinding injects K_SINK into this Knative Service (by name or by label selector)."""
    labels = service["metadata"].get("labels") or {}
    for binding in (doc for doc in docs if doc["kind"] == "SinkBinding"):
        subject = binding["spec"]["subject"]
        if subject.get("kind") != "Service" or not subject.get("apiVersion", "").startswith("serving.knative"):
            continue
        if subject.get("name") == service["metadata"]["name"]:
            return True
        selector = subject.get("selector") or {}
        wanted = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
        if (
            selector
            and all(labels.get(k) == v for k, v in wanted.items())
            and all(_expression_matches(e, labels) for e in expressions)
        ):
            return True
    return False


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
    return {
        "In": key in labels and labels[key] in values,
        "NotIn": key not in labels or labels[key] not in values,
        "Exists": key in labels,
        "DoesNotExist": key not in labels,
    }[operator]


def provided_variables(docs: list[dict[str, Any]], workload: dict[str, Any]) -> set[str]:
    """Every environment variable the first container of a Knative Service or a Job is given."""
    config_maps = _named(docs, "ConfigMap")
    container = workload["spec"]["template"]["spec"]["containers"][0]
    names = {env["name"] for env in container.get("env") or []}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            names |= set(config_maps[source["configMapRef"]["name"]].get("data") or {})
        if "secretRef" in source:
            names |= _secret_keys(docs, source["secretRef"]["name"])
    if _sink_bound(docs, workload):
        names.add("K_SINK")
    return names


# -- what production requires -----------------------------------------------------------------------


def _placeholder(field_type: Any) -> str:
    """A valid value of a setting's type, strong enough for every production check."""
    kinds = set(get_args(field_type)) or {field_type}
    if timedelta in kinds:
        return "30s"
    if Path in kinds:
        return "placeholder-folder"  # never touched: the checks do no I/O
    if bool in kinds:
        return "false"  # a switch whose default is "decide from ENV" (VALIDATE_RESPONSES)
    return secrets.token_hex(32)


def _production_checks(settings: Settings) -> list[Callable[[], object]]:
    """What a production process runs at start-up or on its first use of each setting.

    - the settings model: ENV=production refuses a missing DATABASE_URL or weak JWT_SECRET;
    - the object store: S3_ENDPOINT without S3_ACCESS_KEY and S3_SECRET_KEY is refused, and without
      S3_ENDPOINT the store would be a folder inside one Pod, useless to the others;
    - the Kaniko builder (USE_K8S=true) reads build contexts from the bucket: S3_ENDPOINT;
    - the publisher refuses to publish without K_SINK (the SinkBinding's broker address);
    - the MinIO webhook on `submissions` refuses every call without STORAGE_WEBHOOK_TOKEN.
    """

    def shared_object_store() -> None:
        from rlarena.adapters.storage.local import LocalFolderStore

        if isinstance(object_store_for(settings), LocalFolderStore):
            raise ConfigurationError("production needs a shared object store: S3_ENDPOINT")

    def broker_address() -> None:
        if isinstance(publisher_for(settings), UnconfiguredPublisher):
            raise ConfigurationError("K_SINK")

    def webhook_token() -> None:
        token = settings.storage_webhook_token.get_secret_value() if settings.storage_webhook_token else ""
        check_bearer(f"Bearer {token}", token)

    checks: list[Callable[[], object]] = [shared_object_store, broker_address, webhook_token]
    if settings.use_k8s:
        checks.append(lambda: s3_endpoint_url(settings))
    return checks


def required_in_production(config_map: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The settings without which the code refuses to run, given the ConfigMap's other values.

    Every setting has a valid value; then each is removed in turn and the production checks run.
    Those whose removal makes a check fail are required. Nothing is listed by hand, so a new
    required setting shows up here by itself.
    """
    aliases = {field.alias: field for field in Settings.model_fields.values() if field.alias}
    for alias in aliases:
        monkeypatch.delenv(alias, raising=False)
    # Settings without a default of their own get a value; the others keep their default.
    complete = {
        alias: _placeholder(field.annotation) for alias, field in aliases.items() if field.default in (None, "")
    }
    complete.update({k: v for k, v in config_map.items() if k in aliases})
    complete["ENV"] = "production"

    def fails_without(alias: str) -> bool:
        values = {k: v for k, v in complete.items() if k != alias} | {"ENV": "production"}
        try:
            settings = Settings(**values)
            for check in _production_checks(settings):
                check()
        except ConfigurationError:
            return True
        return False

    assert not fails_without("ENV"), "the complete set must pass every check"
    return {alias for alias in aliases if alias != "ENV" and fails_without(alias)}


def test_production_requires_the_secrets_the_settings_model_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # The derivation finds what config.py and the start-up checks refuse to run without.
    required = required_in_production({"ENV": "production", "USE_K8S": "true"}, monkeypatch)
    assert {"DATABASE_URL", "JWT_SECRET", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"} <= required
    assert {"K_SINK", "STORAGE_WEBHOOK_TOKEN"} <= required
    # A setting with a working default is not required.
    assert not {"PORT", "DB_POOL_SIZE", "LOG_LEVEL", "S3_BUCKET"} & required


def test_every_service_is_given_every_setting_production_requires(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    config_map = _named(rendered, "ConfigMap")[CONFIG_MAP]["data"]
    assert config_map["ENV"] == "production"
    required = required_in_production(config_map, monkeypatch)
    services = _knative_services(rendered)
    assert services
    missing = {}
    for name, service in services.items():
        needed = required - {"K_SINK"} if name in PUBLISH_NOTHING else required
        if needed - provided_variables(rendered, service):
            missing[name] = sorted(needed - provided_variables(rendered, service))
    assert missing == {}


def test_no_setting_keeps_a_default_that_points_at_localhost(rendered: list[dict[str, Any]]) -> None:
    # EXECUTOR_URL, CONTAINER_REGISTRY_URL and CORS_ALLOWED_ORIGINS default to this machine, which
    # inside a Pod is the Pod itself: the ConfigMap must set each one.
    local = {
        field.alias
        for field in Settings.model_fields.values()
        if field.alias and "localhost" in str(field.get_default(call_default_factory=True))
    }
    assert {"EXECUTOR_URL", "CONTAINER_REGISTRY_URL", "CORS_ALLOWED_ORIGINS"} <= local
    config_map = _named(rendered, "ConfigMap")[CONFIG_MAP]["data"]
    assert {alias: config_map.get(alias) for alias in local if "localhost" in config_map.get(alias, "localhost")} == {}


def test_the_services_that_publish_nothing_are_the_only_ones_without_k_sink(rendered: list[dict[str, Any]]) -> None:
    unbound = {name for name, service in _knative_services(rendered).items() if not _sink_bound(rendered, service)}
    assert unbound == PUBLISH_NOTHING


def test_every_job_that_runs_the_library_is_given_what_the_settings_model_requires(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The migrations Job loads the settings (ENV=production) before it migrates.
    config_map = _named(rendered, "ConfigMap")[CONFIG_MAP]["data"]
    required = required_in_production(config_map, monkeypatch) & {"DATABASE_URL", "JWT_SECRET"}
    assert required == {"DATABASE_URL", "JWT_SECRET"}
    jobs = _named(rendered, "Job")
    assert "migrate" in jobs
    for name, job in jobs.items():
        assert required <= provided_variables(rendered, job), name


def connection_ceiling(docs: list[dict[str, Any]]) -> int:
    """The most PostgreSQL connections the Services can hold at max scale (one worker per Pod)."""
    config_map = _named(docs, "ConfigMap")[CONFIG_MAP]["data"]
    per_process = int(config_map["DB_POOL_SIZE"]) + int(config_map["DB_MAX_OVERFLOW"])
    total = 0
    for name, service in _knative_services(docs).items():
        if name in NO_DATABASE:
            continue
        template = service["spec"]["template"]
        container = template["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        assert "DB_POOL_SIZE" not in env and "DB_MAX_OVERFLOW" not in env, f"{name}: recount the pool"
        workers = int(env.get("WORKERS") or 1)
        total += int(template["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"]) * workers * per_process
    return total


def test_the_connection_arithmetic_in_the_deploy_guide_matches_the_manifests() -> None:
    guide = " ".join(DEPLOY.read_text().split())
    base = connection_ceiling(_render(KNATIVE))
    assert f"open at most **{base} connections**" in guide
    for overlay, ceiling in ((p.name, connection_ceiling(_render(p))) for p in _kustomizations()[1:]):
        said = f"`overlays/{overlay}` caps every function at 2: {ceiling})" in guide
        assert ceiling == base or said, f"docs/DEPLOY.md: give overlays/{overlay}'s ceiling, {ceiling}"


def test_secrets_hold_only_secrets_and_the_config_map_no_secret(rendered: list[dict[str, Any]]) -> None:
    from pydantic import SecretStr

    secret_settings = {
        field.alias for field in Settings.model_fields.values() if SecretStr in get_args(field.annotation)
    }
    secret_settings.add("DATABASE_URL")  # holds the database password
    config_map = _named(rendered, "ConfigMap")[CONFIG_MAP]["data"]
    assert not secret_settings & set(config_map)


def test_the_config_map_sets_nothing_the_settings_model_does_not_read(rendered: list[dict[str, Any]]) -> None:
    # A misspelt key (EXECUTOR_MAX_MATCH) would be ignored silently (extra="ignore") and the
    # default used instead: every key must be a setting's name, exactly as the model spells it.
    read = {field.alias for field in Settings.model_fields.values() if field.alias}
    config_maps = [doc for doc in rendered if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == CONFIG_MAP]
    assert config_maps
    for config_map in config_maps:
        assert set(config_map["data"]) - read == set()


def test_the_config_map_values_are_accepted_by_the_settings_model(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for field in Settings.model_fields.values():
        if field.alias:
            monkeypatch.delenv(field.alias, raising=False)
    config_map = _named(rendered, "ConfigMap")[CONFIG_MAP]["data"]
    settings = Settings(**config_map, JWT_SECRET=secrets.token_hex(32), DATABASE_URL="postgresql+pg8000://u@db/rl")
    assert settings.is_production


def test_the_secret_docs_name_a_key_for_every_secret_setting() -> None:
    keys = documented_secret_keys("rlarena-secrets")
    assert {"DATABASE_URL", "JWT_SECRET", "S3_ACCESS_KEY", "S3_SECRET_KEY", "STORAGE_WEBHOOK_TOKEN"} <= keys


def test_the_guide_creates_the_secrets_the_build_and_match_jobs_mount() -> None:
    # Kaniko reads the store's keys from BUILD_S3_SECRET; every build and match Pod pulls (and
    # Kaniko pushes) with CONTAINER_REGISTRY_SECRET. The guide creates both under their default names.
    guide = DEPLOY.read_text()
    s3_secret = Settings.model_fields["build_s3_secret"].default
    registry_secret = Settings.model_fields["container_registry_secret"].default
    keys = re.search(rf"create secret generic {s3_secret} \\\n(.*)\n", guide)
    assert keys, f"docs/DEPLOY.md does not create {s3_secret}"
    assert set(re.findall(r"--from-literal=([\w-]+)=", keys.group(1))) == {S3_ACCESS_KEY_KEY, S3_SECRET_KEY_KEY}
    assert f"create secret docker-registry {registry_secret} " in guide


# -- RBAC --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KubernetesCall:
    module: Path
    line: int
    api: str  # BatchV1Api, CoreV1Api
    method: str  # create_namespaced_job
    watch: bool  # called with watch=True

    def grant(self) -> Grant:
        """(apiGroup, resource, verb) as the API server authorises it, from the client's own request."""
        from kubernetes import client

        serializer = inspect.getsource(getattr(getattr(client, self.api), f"_{self.method}_serialize"))
        match = re.search(r"method='(\w+)',\s*resource_path='([^']+)'", serializer)
        assert match, f"{self.api}.{self.method}: no request in the client"
        http_method, path = match.groups()
        found = re.fullmatch(r"/(?:api/v1|apis/([^/]+)/[^/]+)/namespaces/\{namespace\}/([^/]+)(/\{name\})?(/.+)?", path)
        assert found, f"{self.api}.{self.method}: not a namespaced resource ({path})"
        group, resource, named, sub = found.groups()
        verb = {
            ("GET", True): "get",
            ("GET", False): "watch" if self.watch else "list",
            ("POST", False): "create",
            ("PUT", True): "update",
            ("PATCH", True): "patch",
            ("DELETE", True): "delete",
            ("DELETE", False): "deletecollection",
        }[(http_method, bool(named))]
        return (group or "", resource + (sub or ""), verb)


def kubernetes_calls(folder: Path) -> list[KubernetesCall]:
    """Every `<api>.<method>(...)` where <api> was bound to `k8s.<Something>Api(...)` in that function."""
    calls = []
    for module in sorted(folder.rglob("*.py")):
        tree = ast.parse(module.read_text())
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            apis = {
                target.id: node.value.func.attr
                for node in ast.walk(function)
                if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr.endswith("Api")
                and node.value.func.attr != "ApiClient"
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in apis
                ):
                    watch = any(
                        k.arg == "watch" and isinstance(k.value, ast.Constant) and k.value.value for k in node.keywords
                    )
                    calls.append(KubernetesCall(module, node.lineno, apis[node.func.value.id], node.func.attr, watch))
    return calls


def needed_grants(component: str) -> set[Grant]:
    return {call.grant() for call in kubernetes_calls(COMPONENTS[component])}


def granted(role: dict[str, Any]) -> set[Grant]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _role_of(docs: list[dict[str, Any]], service_account: str) -> dict[str, Any]:
    bindings = [
        b
        for b in _named(docs, "RoleBinding").values()
        if any(s["kind"] == "ServiceAccount" and s["name"] == service_account for s in b["subjects"])
    ]
    assert len(bindings) == 1, f"{service_account}: {len(bindings)} RoleBindings"
    (binding,) = bindings
    assert binding["roleRef"]["kind"] == "Role"
    return _named(docs, "Role")[binding["roleRef"]["name"]]


def test_the_call_scan_finds_every_kind_of_call_the_components_make() -> None:
    builder = {(c.api, c.method) for c in kubernetes_calls(COMPONENTS["builder"])}
    assert {
        ("BatchV1Api", "create_namespaced_job"),
        ("BatchV1Api", "read_namespaced_job"),
        ("BatchV1Api", "list_namespaced_job"),
        ("BatchV1Api", "delete_namespaced_job"),
        ("CoreV1Api", "list_namespaced_pod"),
        ("CoreV1Api", "read_namespaced_pod_log"),
    } <= builder
    assert needed_grants("executor") == {
        ("batch", "jobs", "create"),
        ("batch", "jobs", "get"),
        ("batch", "jobs", "delete"),
        ("", "pods", "list"),
        ("", "pods/log", "get"),
    }


def test_the_call_scan_maps_methods_to_what_the_api_server_authorises() -> None:
    def grant(api: str, method: str, watch: bool = False) -> Grant:
        return KubernetesCall(Path("x.py"), 1, api, method, watch).grant()

    assert grant("CoreV1Api", "read_namespaced_pod_log") == ("", "pods/log", "get")
    assert grant("BatchV1Api", "list_namespaced_job", watch=True) == ("batch", "jobs", "watch")
    assert grant("BatchV1Api", "patch_namespaced_job_status") == ("batch", "jobs/status", "patch")
    assert grant("CoreV1Api", "delete_collection_namespaced_pod") == ("", "pods", "deletecollection")


def test_a_new_kubernetes_call_is_found_by_the_scan(tmp_path: Path) -> None:
    (tmp_path / "extra.py").write_text(
        "from kubernetes import client as k8s\n"
        "def f(api):\n"
        "    core = k8s.CoreV1Api(api)\n"
        "    core.patch_namespaced_pod('n', 'ns', {})\n"
    )
    assert {c.grant() for c in kubernetes_calls(tmp_path)} == {("", "pods", "patch")}


def test_every_kubernetes_call_belongs_to_a_component() -> None:
    everywhere = {(c.module, c.line) for c in kubernetes_calls(SOURCE)}
    assert everywhere
    assigned = {(c.module, c.line) for folder in COMPONENTS.values() for c in kubernetes_calls(folder)}
    assert everywhere == assigned


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_each_role_grants_what_its_component_calls_and_nothing_else(
    rendered: list[dict[str, Any]], component: str
) -> None:
    needed = needed_grants(component)
    assert needed
    grants = granted(_role_of(rendered, component))
    assert sorted(needed - grants) == [], "a call without a grant: add it to knative/base/rbac"
    assert sorted(grants - needed) == [], "a grant no code calls: remove it from knative/base/rbac"


def test_the_job_watcher_may_read_exactly_what_it_watches(rendered: list[dict[str, Any]]) -> None:
    plurals = {"Job": "jobs", "Pod": "pods"}
    for source in (doc for doc in rendered if doc["kind"] == "ApiServerSource"):
        watched = {
            (r["apiVersion"].rpartition("/")[0], plurals[r["kind"]], verb)
            for r in source["spec"]["resources"]
            for verb in SOURCE_VERBS
        }
        assert granted(_role_of(rendered, source["spec"]["serviceAccountName"])) == watched


def test_only_services_that_call_kubernetes_run_with_a_service_account(rendered: list[dict[str, Any]]) -> None:
    # The builder's code runs in `builder` (uploads start Kaniko Jobs) and `builder-jobs` (Job
    # events, the reconcile tick); the executor's in `executor`. Every other function runs as the
    # namespace's default account, which no Role names.
    accounts = {
        name: account
        for name, doc in _knative_services(rendered).items()
        if (account := doc["spec"]["template"]["spec"].get("serviceAccountName"))
    }
    assert accounts == {"builder": "builder", "builder-jobs": "builder", "executor": "executor"}
    assert set(accounts.values()) == set(COMPONENTS)
    bound = {s["name"] for b in _named(rendered, "RoleBinding").values() for s in b["subjects"]}
    assert "default" not in bound


# -- who may post to the Broker -------------------------------------------------------------------------

BROKER_POLICY = "broker-ingress-from-the-platform-only"  # knative/base/policies/broker-ingress.yaml
EVENTING_SYSTEM = KNATIVE / "eventing-system"  # the shared ingresses in knative-eventing


def _broker_policy_peers(policy: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """The Knative Services, ApiServerSources and namespaces a Broker-ingress policy lets post events."""
    services: set[str] = set()
    sources: set[str] = set()
    namespaces: set[str] = set()
    for rule in policy["spec"]["ingress"]:
        for peer in rule.get("from") or []:
            selector = peer.get("podSelector") or {}
            for expression in selector.get("matchExpressions") or []:
                if expression["key"] == "serving.knative.dev/service":
                    assert expression["operator"] == "In"
                    services |= set(expression["values"])
            if source := (selector.get("matchLabels") or {}).get("eventing.knative.dev/sourceName"):
                sources.add(source)
            if "namespaceSelector" in peer:
                namespaces.add(peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
    return services, sources, namespaces


def test_the_broker_ingress_admits_exactly_the_services_given_k_sink_and_the_platforms_sources(
    rendered: list[dict[str, Any]],
) -> None:
    # A Service that starts publishing gets K_SINK from the SinkBinding; unless it is added to the
    # policies too, its events are dropped at the Broker. And nothing that does not publish is let in.
    publishers = {name for name, service in _knative_services(rendered).items() if _sink_bound(rendered, service)}
    sources = set(_named(rendered, "ApiServerSource"))
    namespace = _named(rendered, "Namespace")
    assert publishers and sources and list(namespace) == ["rlarena"]
    in_namespace = _named(rendered, "NetworkPolicy")[BROKER_POLICY]
    assert _broker_policy_peers(in_namespace) == (publishers, sources, {"knative-eventing"})
    shared = _render(EVENTING_SYSTEM)
    assert len(shared) == 2
    for policy in shared:
        # From knative-eventing, the platform's namespace must be named explicitly.
        assert _broker_policy_peers(policy) == (publishers, sources, set(namespace)), policy["metadata"]["name"]


def test_make_deploy_and_the_guide_close_the_shared_broker_ingress() -> None:
    deploy = re.search(r"^deploy:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert deploy and "apply -k knative/eventing-system" in deploy.group(1)
    guide = DEPLOY.read_text()
    assert "kubectl apply -k knative/eventing-system" in guide
    for policy in [BROKER_POLICY, *(doc["metadata"]["name"] for doc in _render(EVENTING_SYSTEM))]:
        assert f"`{policy}`" in guide, f"docs/DEPLOY.md does not name the NetworkPolicy {policy}"
