"""The one settings object. Read once per process, then injected; nothing else reads os.environ."""

from __future__ import annotations

import functools
import logging
import os
import secrets
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from rlarena.errors import ConfigurationError

if TYPE_CHECKING:
    from rlarena.domain.archives import ArchiveLimits

log = logging.getLogger(__name__)

# pydantic looks for plugins the first time it builds a validator, reading the entry points of every
# installed distribution (5-10 ms of a cold start). The platform uses none: off unless the operator
# sets this variable otherwise.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

MIN_SECRET_LENGTH = 32
_WEAK_SECRETS = {"secret", "changeme", "change-me", "your-secret-key", "jwt-secret", "development"}
# What ENV=development uses for these settings when they are not set.
DEVELOPMENT_PACE = {"matchmaker_cooldown": timedelta(seconds=10), "matchmaker_rematch_after": timedelta(minutes=1)}
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A Kubernetes resource quantity as used for CPU and memory: 500m, 1, 1.5, 512Mi, 2G.
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"
# A Kubernetes object name such as a RuntimeClass's (DNS-1123 subdomain), or empty.
_DNS_SUBDOMAIN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Accept 3600, "3600", "90s", "30m", "24h", "7d" or Go-style "1h30m"."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    text = value.strip().lower()
    if text.isdigit() and int(text) > 0:
        return timedelta(seconds=int(text))
    total, number = 0.0, ""
    for char in text:
        if char.isdigit() or char == ".":
            number += char
        elif char in _DURATION_UNITS and number:
            total += float(number) * _DURATION_UNITS[char]
            number = ""
        else:
            raise ValueError(f"invalid duration {value!r}: use seconds or a form like 30m, 24h, 7d")
    if number or total <= 0:
        raise ValueError(f"invalid duration {value!r}: use seconds or a form like 30m, 24h, 7d")
    return timedelta(seconds=total)


def environment_values(aliases: dict[str, str]) -> dict[str, str]:
    """The process environment's values of the variables `aliases` names (lower-cased name -> the
    name), whatever the case of the variable's name; the values stay text for the model to parse."""
    return {aliases[name.lower()]: value for name, value in os.environ.items() if name.lower() in aliases}


@functools.cache
def _variable_names(model: type[BaseModel]) -> dict[str, str]:
    """Each variable a settings class reads, by its lower-cased name and its field's name: the name."""
    names: dict[str, str] = {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        names[name.lower()] = names[alias.lower()] = alias
    return names


class Settings(BaseModel):
    """Every variable the platform reads. Names follow the old Go backend where it had one.

    `Settings()` reads the process environment (names case-insensitive); keyword values, by the same
    names (`Settings(ENV="test")`), take precedence over it. The environment is read here, not with
    pydantic-settings: importing that package cost a cold start ~25 ms (bench/RESULTS.md section 22)
    for what is a dictionary lookup per variable; pydantic still parses and validates every value.
    """

    model_config = ConfigDict(extra="ignore", validate_default=True, arbitrary_types_allowed=True)

    def __init__(self, **values: Any) -> None:
        aliases = _variable_names(type(self))
        # Keywords by any case of a variable's name or by the field's name (PORT, port): named as
        # the environment's values are, so that each replaces its variable rather than losing to it.
        given = {aliases.get(key.lower(), key): value for key, value in values.items()}
        super().__init__(**{**environment_values(aliases), **given})

    port: int = Field(8080, alias="PORT", ge=1, le=65535)
    env: Literal["development", "test", "production"] = Field("development", alias="ENV")
    data_dir: Path = Field(Path(".data"), alias="DATA_DIR")
    database_url: str = Field("", alias="DATABASE_URL")
    db_pool_size: int = Field(2, alias="DB_POOL_SIZE", ge=1, le=50)
    db_max_overflow: int = Field(2, alias="DB_MAX_OVERFLOW", ge=0, le=50)
    jwt_secret: SecretStr | None = Field(None, alias="JWT_SECRET")
    jwt_expiry: timedelta = Field(timedelta(hours=24), alias="JWT_EXPIRY")
    # Where the web function reads the REST API; empty: the origin the page was asked at (the gateway).
    web_api_url: str = Field("", alias="WEB_API_URL")
    cors_allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://localhost:5173"],
        alias="CORS_ALLOWED_ORIGINS",
    )
    storage_path: Path | None = Field(None, alias="STORAGE_PATH")
    s3_endpoint: str | None = Field(None, alias="S3_ENDPOINT")
    s3_access_key: str | None = Field(None, alias="S3_ACCESS_KEY")
    s3_secret_key: SecretStr | None = Field(None, alias="S3_SECRET_KEY")
    s3_bucket: str = Field("rlarena", alias="S3_BUCKET")
    s3_region: str = Field("us-east-1", alias="S3_REGION")
    s3_secure: bool = Field(False, alias="S3_SECURE")
    storage_webhook_token: SecretStr | None = Field(None, alias="STORAGE_WEBHOOK_TOKEN")
    broker_token: SecretStr | None = Field(None, alias="BROKER_TOKEN")
    # Room for a trained model (weights barely compress) and a real project's files (docs/DEPLOY.md).
    archive_max_bytes: int = Field(100 * 1024 * 1024, alias="ARCHIVE_MAX_BYTES", ge=1024)
    archive_max_files: int = Field(2000, alias="ARCHIVE_MAX_FILES", ge=1)
    archive_max_unpacked_bytes: int = Field(100 * 1024 * 1024, alias="ARCHIVE_MAX_UNPACKED_BYTES", ge=1024)
    source_file_max_bytes: int = Field(1024 * 1024, alias="SOURCE_FILE_MAX_BYTES", ge=1024)
    submissions_per_agent_per_day: int = Field(5, alias="SUBMISSIONS_PER_AGENT_PER_DAY", ge=1)
    submission_rate_limit_per_minute: int = Field(5, alias="SUBMISSION_RATE_LIMIT_PER_MINUTE", ge=1)
    max_rebuilds: int = Field(3, alias="MAX_REBUILDS", ge=0)
    code_url_timeout: timedelta = Field(timedelta(seconds=10), alias="CODE_URL_TIMEOUT")
    code_url_allow_private: bool = Field(False, alias="CODE_URL_ALLOW_PRIVATE")
    upload_url_expiry: timedelta = Field(timedelta(minutes=15), alias="UPLOAD_URL_EXPIRY")
    build_concurrency: int = Field(2, alias="BUILD_CONCURRENCY", ge=1, le=64)
    build_timeout: timedelta = Field(timedelta(minutes=10), alias="BUILD_TIMEOUT")
    builds_dir: Path | None = Field(None, alias="BUILDS_DIR")
    agent_python: str | None = Field(None, alias="AGENT_PYTHON")
    # The curated agent runtime (numpy, python-chess, onnxruntime; rlarena.sandbox.agent_venv):
    # a folder sandboxes can read; by default /opt/rlarena/agent-runtime as root. PyTorch (CPU) in
    # it too when AGENT_RUNTIME_TORCH is set (large: several hundred MB).
    agent_runtime_dir: Path | None = Field(None, alias="AGENT_RUNTIME_DIR")
    agent_runtime_torch: bool = Field(False, alias="AGENT_RUNTIME_TORCH")
    # As root, let the sandbox set the host's cgroup2 `favordynmods` mount option (~15 ms faster
    # sandbox starts, slightly dearer forks host-wide; see rlarena.sandbox.cgroups).
    sandbox_favor_cgroup_changes: bool = Field(True, alias="SANDBOX_FAVOR_CGROUP_CHANGES")
    # Warm sandboxes (rlarena.sandbox.forked): an agent is loaded once in its strict sandbox and
    # each local match plays a forked copy; idle ones are closed, least recently used first, once
    # together they hold more than WARM_SANDBOX_MEMORY_BYTES. False starts every agent cold.
    warm_sandboxes: bool = Field(True, alias="WARM_SANDBOXES")
    warm_sandbox_memory_bytes: int = Field(512 * 1024 * 1024, alias="WARM_SANDBOX_MEMORY_BYTES", ge=0)
    # requirements.txt on the local platform (rlarena.adapters.builders.requirements_install): wheels
    # only, from this index, in a sandboxed step with the network; installs cached by content in
    # REQUIREMENTS_CACHE_DIR (default DATA_DIR/packages; sandboxes must be able to reach it).
    local_build_install_requirements: bool = Field(True, alias="LOCAL_BUILD_INSTALL_REQUIREMENTS")
    requirements_index_url: str = Field(
        "https://pypi.org/simple", alias="REQUIREMENTS_INDEX_URL", pattern=r"^https?://\S+$"
    )
    requirements_max_bytes: int = Field(500 * 1024 * 1024, alias="REQUIREMENTS_MAX_BYTES", ge=1024)
    requirements_cache_dir: Path | None = Field(None, alias="REQUIREMENTS_CACHE_DIR")
    executor_url: str = Field("localhost:50051", alias="EXECUTOR_URL")
    executor_max_matches: int = Field(2, alias="EXECUTOR_MAX_MATCHES", ge=1, le=64)
    executor_dispatch_timeout: timedelta = Field(timedelta(seconds=10), alias="EXECUTOR_DISPATCH_TIMEOUT")
    local_executor: bool = Field(True, alias="LOCAL_EXECUTOR")
    # On SIGTERM/SIGINT the executor lets running matches finish this long; the rest end as failed.
    executor_shutdown_grace_seconds: float = Field(20.0, alias="EXECUTOR_SHUTDOWN_GRACE_SECONDS", ge=0, le=3600)
    # Results the executor could not store or announce yet wait here (default DATA_DIR/executor-spool).
    executor_spool_dir: Path | None = Field(None, alias="EXECUTOR_SPOOL_DIR")
    match_deadline_slack: timedelta = Field(timedelta(minutes=2), alias="MATCH_DEADLINE_SLACK")
    manual_match_rate_limit_per_minute: int = Field(10, alias="MANUAL_MATCH_RATE_LIMIT_PER_MINUTE", ge=1)
    manual_matches_rated: bool = Field(False, alias="MANUAL_MATCHES_RATED")
    matchmaker_cooldown: timedelta = Field(timedelta(minutes=5), alias="MATCHMAKER_COOLDOWN")
    matchmaker_daily_cap: int = Field(100, alias="MATCHMAKER_DAILY_CAP", ge=1)
    matchmaker_initial_window: int = Field(100, alias="MATCHMAKER_INITIAL_WINDOW", ge=0)
    matchmaker_window_step: int = Field(100, alias="MATCHMAKER_WINDOW_STEP", ge=0)
    matchmaker_max_window: int = Field(500, alias="MATCHMAKER_MAX_WINDOW", ge=0)
    matchmaker_wait_interval: timedelta = Field(timedelta(seconds=30), alias="MATCHMAKER_WAIT_INTERVAL")
    matchmaker_rematch_after: timedelta = Field(timedelta(minutes=30), alias="MATCHMAKER_REMATCH_AFTER")
    matchmaker_new_agent_games: int = Field(10, alias="MATCHMAKER_NEW_AGENT_GAMES", ge=0)
    matchmaker_max_matches_per_tick: int = Field(200, alias="MATCHMAKER_MAX_MATCHES_PER_TICK", ge=1)
    # The house agents (rlarena.house) on every game's ladder, as anchors and opponents at once.
    house_agents: bool = Field(True, alias="HOUSE_AGENTS")
    k_sink: str | None = Field(None, alias="K_SINK")
    use_k8s: bool = Field(False, alias="USE_K8S")
    k8s_namespace: str = Field("rlarena", alias="K8S_NAMESPACE")
    match_runner_image: str = Field("rlarena/executor:latest", alias="MATCH_RUNNER_IMAGE", pattern=r"^[^\s]+$")
    match_agent_cpu: str = Field("1", alias="MATCH_AGENT_CPU", pattern=_QUANTITY)
    match_agent_memory: str = Field("1Gi", alias="MATCH_AGENT_MEMORY", pattern=_QUANTITY)
    match_runner_cpu: str = Field("500m", alias="MATCH_RUNNER_CPU", pattern=_QUANTITY)
    match_runner_memory: str = Field("512Mi", alias="MATCH_RUNNER_MEMORY", pattern=_QUANTITY)
    match_pod_start_timeout: timedelta = Field(timedelta(minutes=2), alias="MATCH_POD_START_TIMEOUT")
    # Pods that run agent code (matches, validation): RLIMIT_NPROC per agent container, a
    # RuntimeClass (e.g. gVisor; empty: the cluster's default runtime) and user namespaces.
    match_agent_max_processes: int = Field(256, alias="MATCH_AGENT_MAX_PROCESSES", ge=16, le=65536)
    match_runtime_class: str = Field("", alias="MATCH_RUNTIME_CLASS", max_length=253, pattern=_DNS_SUBDOMAIN)
    match_user_namespaces: bool = Field(False, alias="MATCH_USER_NAMESPACES")
    container_registry_url: str = Field("localhost:5000/rlarena", alias="CONTAINER_REGISTRY_URL")
    container_registry_secret: str = Field("rlarena-registry", alias="CONTAINER_REGISTRY_SECRET")
    agent_base_image: str = Field("python:3.11-slim", alias="AGENT_BASE_IMAGE", pattern=r"^[^\s]+$")
    kaniko_image: str = Field("ghcr.io/osscontainertools/kaniko:latest", alias="KANIKO_IMAGE", pattern=r"^[^\s]+$")
    kaniko_cache_repo: str | None = Field(None, alias="KANIKO_CACHE_REPO")
    build_s3_secret: str = Field("rlarena-s3", alias="BUILD_S3_SECRET")
    trivy_enabled: bool = Field(False, alias="TRIVY_ENABLED")
    # A repository without a tag (a registry port is fine), and a tag, a tag@digest or a bare digest.
    trivy_image: str = Field(
        "ghcr.io/aquasecurity/trivy", alias="TRIVY_IMAGE", pattern=r"^[^\s:@/]+(:\d+)?(/[^\s:@/]+)+$"
    )
    trivy_version: str = Field(
        "0.70.0", alias="TRIVY_VERSION", pattern=r"^(\w[\w.-]*(@sha256:[0-9a-f]{64})?|sha256:[0-9a-f]{64})$"
    )
    trivy_fail_on_critical: bool = Field(False, alias="TRIVY_FAIL_ON_CRITICAL")
    knative_dir: Path | None = Field(None, alias="KNATIVE_DIR")
    ping_interval_override: timedelta | None = Field(None, alias="PING_INTERVAL_OVERRIDE")
    local_broker_faults: Literal["off", "duplicate-shuffle"] = Field("off", alias="LOCAL_BROKER_FAULTS")
    max_body_bytes: int = Field(1024 * 1024, alias="MAX_BODY_BYTES", ge=1024)
    auth_rate_limit_per_minute: int = Field(5, alias="AUTH_RATE_LIMIT_PER_MINUTE", ge=1)
    replay_rate_limit_per_minute: int = Field(20, alias="REPLAY_RATE_LIMIT_PER_MINUTE", ge=1)
    trust_forwarded_for: bool = Field(False, alias="TRUST_FORWARDED_FOR")
    # Check every JSON answer against the response model its route declares (a mismatch is a logged
    # 500 response_schema_mismatch); unset: on outside production, off in production.
    validate_responses: bool | None = Field(None, alias="VALIDATE_RESPONSES")
    relay_allow_anonymous: bool = Field(False, alias="RELAY_ALLOW_ANONYMOUS")
    relay_queue_size: int = Field(256, alias="RELAY_QUEUE_SIZE", ge=1, le=100_000)
    relay_max_connections: int = Field(10_000, alias="RELAY_MAX_CONNECTIONS", ge=1)
    relay_max_connections_per_user: int = Field(20, alias="RELAY_MAX_CONNECTIONS_PER_USER", ge=1)
    relay_ping_interval: timedelta = Field(timedelta(seconds=20), alias="RELAY_PING_INTERVAL")
    relay_ping_timeout: timedelta = Field(timedelta(seconds=20), alias="RELAY_PING_TIMEOUT")
    log_level: str = Field("INFO", alias="LOG_LEVEL")

    @field_validator(
        "jwt_expiry",
        "ping_interval_override",
        "code_url_timeout",
        "upload_url_expiry",
        "build_timeout",
        "match_pod_start_timeout",
        "executor_dispatch_timeout",
        "match_deadline_slack",
        "matchmaker_cooldown",
        "matchmaker_wait_interval",
        "matchmaker_rematch_after",
        "relay_ping_interval",
        "relay_ping_timeout",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if isinstance(value, str | int | float | timedelta):
            return parse_duration(value)
        return value

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator(
        "jwt_secret",
        "k_sink",
        "s3_endpoint",
        "s3_access_key",
        "s3_secret_key",
        "storage_webhook_token",
        "broker_token",
        "kaniko_cache_repo",
        "executor_spool_dir",
        "agent_runtime_dir",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _production_needs_a_strong_secret(self) -> Settings:
        if self.env != "production":
            return self
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if not secret:
            raise ConfigurationError(
                "JWT_SECRET is required when ENV=production: set it to a random string of at "
                f"least {MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`)"
            )
        if len(secret) < MIN_SECRET_LENGTH or secret.lower() in _WEAK_SECRETS or len(set(secret)) < 8:
            raise ConfigurationError(
                f"JWT_SECRET is too weak for ENV=production: use at least {MIN_SECRET_LENGTH} "
                "random characters (e.g. `openssl rand -hex 32`)"
            )
        if not self.database_url:
            raise ConfigurationError("DATABASE_URL is required when ENV=production")
        if "*" in self.cors_allowed_origins:
            raise ConfigurationError(
                "CORS_ALLOWED_ORIGINS must not contain '*' when ENV=production: list your frontend's "
                "origins by name, comma-separated (e.g. https://rlarena.example.com)"
            )
        return self

    @model_validator(mode="after")
    def _database_tls(self) -> Settings:
        """A PostgreSQL URL's TLS and connection parameters are checked now, not at the first query."""
        if self.database_url.startswith("postgres"):
            from rlarena.database_tls import checked_at_start_up, query_of

            query = query_of(self.database_url)
            checked_at_start_up(query)
            if self.is_production and "sslmode" not in query:
                # Said at each start-up until the operator has chosen: any sslmode silences it.
                log.warning(
                    "DATABASE_URL sets no sslmode: TLS only if the database offers it, and its identity "
                    "unchecked; set sslmode=verify-full (with sslrootcert) unless the network to it is "
                    "trusted, then sslmode=require or disable"
                )
        return self

    @model_validator(mode="after")
    def _development_pace(self) -> Settings:
        """ENV=development (the local platform) plays a new agent's first matches in minutes: a
        short cooldown and rematch block unless set. Production and the test suite keep theirs."""
        if self.env == "development":
            for name, value in DEVELOPMENT_PACE.items():
                if name not in self.model_fields_set:
                    setattr(self, name, value)
        return self

    @field_validator("validate_responses", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def checks_responses(self) -> bool:
        return self.validate_responses if self.validate_responses is not None else not self.is_production

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rlarena.db').resolve()}"

    @cached_property
    def resolved_storage_path(self) -> Path:
        return (self.storage_path or self.data_dir / "objects").resolve()

    @cached_property
    def resolved_executor_spool_dir(self) -> Path:
        return (self.executor_spool_dir or self.data_dir / "executor-spool").resolve()

    @cached_property
    def resolved_requirements_cache_dir(self) -> Path:
        return (self.requirements_cache_dir or self.data_dir / "packages").resolve()

    @cached_property
    def resolved_agent_runtime_dir(self) -> Path:
        return (self.agent_runtime_dir or default_agent_runtime_dir()).absolute()

    def archive_limits(self) -> ArchiveLimits:
        """What an upload may hold: every intake, both builders and `rlarena validate`/`play` check these."""
        from rlarena.domain.archives import ArchiveLimits

        return ArchiveLimits(
            max_bytes=self.archive_max_bytes,
            max_files=self.archive_max_files,
            max_unpacked_bytes=self.archive_max_unpacked_bytes,
            max_source_bytes=self.source_file_max_bytes,
        )

    @cached_property
    def resolved_knative_dir(self) -> Path:
        if self.knative_dir:
            return self.knative_dir
        # In a source checkout the manifests sit at the repository root.
        return Path(__file__).resolve().parents[3] / "knative"

    @cached_property
    def jwt_signing_key(self) -> str:
        """The configured secret, or in development one generated once and kept in the data folder."""
        if self.jwt_secret:
            return self.jwt_secret.get_secret_value()
        if self.is_production:  # pragma: no cover - the validator already refused this
            raise ConfigurationError("JWT_SECRET is required when ENV=production")
        key, generated = _generated_secret(self.data_dir / "jwt-secret")
        if generated:
            log.warning(
                "JWT_SECRET is not set: generated a development secret in %s. "
                "Set JWT_SECRET before running with ENV=production.",
                self.data_dir / "jwt-secret",
            )
        return key

    @cached_property
    def broker_ingress_token(self) -> str:
        """The secret the local broker ingress requires: BROKER_TOKEN, or one generated once into
        DATA_DIR/broker-token (0600). The local platform hands it to the executor it starts."""
        if self.broker_token:
            return self.broker_token.get_secret_value()
        key, _ = _generated_secret(self.data_dir / "broker-token")
        return key


def _generated_secret(path: Path) -> tuple[str, bool]:
    """The secret kept in `path`, generated (64 hex characters, file mode 0600) if there is none yet."""
    from rlarena.private_files import read_private_text, write_private_file_once

    existing = read_private_text(path)
    if existing is not None and existing.strip():
        return existing.strip(), False
    if existing is not None:  # blank: left by a crash between creating and writing it
        path.unlink(missing_ok=True)
    key = secrets.token_hex(32)
    if write_private_file_once(path, key.encode()):
        return key, True
    theirs = (read_private_text(path) or "").strip()  # another process wrote it first: use theirs
    if not theirs:
        raise ConfigurationError(f"{path} is empty: delete it and start again")
    return theirs, False


def default_agent_runtime_dir() -> Path:
    """AGENT_RUNTIME_DIR's default: a folder every sandbox's pool uid can read when the platform is
    root (not under /root), else the user's own (no uid drop then)."""
    if os.geteuid() == 0:
        return Path("/opt/rlarena/agent-runtime")
    return Path.home() / ".local" / "share" / "rlarena" / "agent-runtime"


def load_settings() -> Settings:
    """Read the environment once. Invalid values stop start-up with a message naming the variable."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in error.errors())
        raise ConfigurationError(f"invalid configuration: {problems}") from None
