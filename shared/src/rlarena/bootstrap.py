"""Wire the platform's dependencies once per process, from the one settings object."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from cloudevents.http import CloudEvent
from sqlalchemy import Engine

from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.leaderboard_stamps import Stamp, StampReader
from rlarena.adapters.db.outbox import OutboxRelay
from rlarena.adapters.db.rate_limits import RateLimiter
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.config import Settings
from rlarena.events.catalogue import EventType, Source, StorageObjectCreated, make_event
from rlarena.events.publisher import Publisher, publisher_for
from rlarena.service.rendered_boards import RenderedBoards

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from rlarena.adapters.builders.base import Builder
    from rlarena.adapters.executor_client import MatchDispatcher
    from rlarena.adapters.passwords import PasswordHasher
    from rlarena.adapters.storage.base import ObjectStore, StoredObject
    from rlarena.adapters.tokens import TokenService
    from rlarena.domain.archives import ArchiveLimits


log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Platform:
    """Everything a use case may need. Built lazily: nothing connects until first used."""

    settings: Settings
    publisher: Publisher
    clock: Callable[[], datetime] = utc_now
    # Where the Kubernetes API is (None: in the cluster, or the kubeconfig); tests point it at kmock.
    kubernetes_api: Callable[[], ApiClient] | None = None

    @cached_property
    def engine(self) -> Engine:
        return make_engine(
            self.settings.resolved_database_url,
            pool_size=self.settings.db_pool_size,
            max_overflow=self.settings.db_max_overflow,
        )

    @cached_property
    def leaderboards(self) -> RenderedBoards:
        """The leaderboard pages this process rendered, served while their board is unchanged."""
        return RenderedBoards()

    @cached_property
    def _stamps(self) -> StampReader:
        return StampReader(
            self.engine, pool_size=self.settings.db_pool_size, max_overflow=self.settings.db_max_overflow
        )

    def leaderboard_stamp(self, environment_id: str | None) -> Stamp:
        """What the leaderboard of `environment_id` (all of them for None) is at, in one round trip."""
        return self._stamps.read(environment_id)

    @cached_property
    def passwords(self) -> PasswordHasher:
        # Only the auth function hashes: argon2 stays off the other functions' cold start.
        from rlarena.adapters.passwords import PasswordHasher

        return PasswordHasher()

    @cached_property
    def tokens(self) -> TokenService:
        from rlarena.adapters.tokens import TokenService

        return TokenService(self.settings.jwt_signing_key, self.settings.jwt_expiry)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(self.engine)

    @property
    def archive_limits(self) -> ArchiveLimits:
        """What an upload may hold (every intake and the local builder check against these)."""
        return self.settings.archive_limits()

    @cached_property
    def store(self) -> ObjectStore:
        from rlarena.adapters.storage.factory import object_store_for

        return object_store_for(self.settings, on_created=self._announce_stored)

    @cached_property
    def builder(self) -> Builder:
        if self.settings.use_k8s:
            # Imported here: the kubernetes client it loads is only for processes that build.
            from rlarena.adapters.builders.kaniko import KanikoBuilder, cluster_api_client

            return KanikoBuilder(self.store, self.settings, self.kubernetes_api or cluster_api_client)
        from rlarena.adapters.builders.local import LocalBuilder
        from rlarena.adapters.builders.requirements_install import installer_for
        from rlarena.executor.validation import RunnerValidationMatch
        from rlarena.sandbox import agent_venv, support
        from rlarena.sandbox.runtime_install import agent_python_for

        support.announce(
            "the local builder",
            production=self.settings.env == "production",
            favor_cgroup_changes=self.settings.sandbox_favor_cgroup_changes,
        )
        agent_venv.announce(
            "the local builder", self.settings.resolved_agent_runtime_dir, torch=self.settings.agent_runtime_torch
        )
        return LocalBuilder(
            self.store,
            # Built agents live in the platform's private data folder; sandboxes get copies.
            self.settings.builds_dir or self.settings.data_dir / "builds",
            self.archive_limits,
            requirements=installer_for(self.settings),
            python=agent_python_for(self.settings),
            validation_match=RunnerValidationMatch(),
        )

    @cached_property
    def executor(self) -> MatchDispatcher:
        from rlarena.adapters.executor_client import GrpcExecutorClient

        return GrpcExecutorClient(self.settings.executor_url, self.settings.executor_dispatch_timeout.total_seconds())

    def _announce_stored(self, stored: StoredObject) -> None:
        """The local folder store's stand-in for MinIO's bucket notification."""
        payload = StorageObjectCreated(
            bucket=self.settings.s3_bucket,
            key=stored.key,
            size=stored.size,
            etag=stored.etag,
            content_type=stored.content_type,
        )
        event_id = f"stored-{stored.key}-{stored.etag}"
        try:
            self.publisher.publish(
                make_event(EventType.STORAGE_OBJECT_CREATED, Source.STORAGE, payload, event_id=event_id)
            )
        except Exception:  # like a bucket notification lost: the tick finds uploads that arrived unannounced
            log.warning("could not announce the stored object %s", stored.key, exc_info=True)

    @cached_property
    def outbox(self) -> OutboxRelay:
        """Publishes the events use cases stage in their transactions (the transactional outbox)."""
        return OutboxRelay(self.engine, self._publish)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine, relay=self.outbox)

    def _publish(self, event: CloudEvent) -> None:
        self.publisher.publish(event)  # looked up each time: the publisher may be replaced (tests)

    def close(self) -> None:
        if "executor" in self.__dict__:
            self.executor.close()
        if "_stamps" in self.__dict__:
            self._stamps.close()
        if "engine" in self.__dict__:
            self.engine.dispose()


def bootstrap(settings: Settings, *, publisher: Publisher | None = None) -> Platform:
    return Platform(settings=settings, publisher=publisher or publisher_for(settings))
