"""Who owns an agent and who plays a match, read from the database and remembered.

Both facts never change once written (an agent keeps its owner, a match its players, even after
a soft delete), so bounded LRU caches are always right; they only save queries. A match's row
answers for its players' owners in the same query, which also fills the owner cache.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Collection

from sqlalchemy import select
from sqlalchemy.orm import aliased

from rlarena.adapters.db.models import Agent, Match
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.relay.lru import Lru
from rlarena.relay.messages import MatchFacts

CACHE_SIZE = 10_000


class DatabaseDirectory:
    """A `Directory` on the platform's database. Thread-safe; a database outage raises ServiceUnavailable."""

    def __init__(self, uow: Callable[[], UnitOfWork], *, cache_size: int = CACHE_SIZE) -> None:
        self._uow = uow
        self._lock = threading.Lock()
        self._owners: Lru[uuid.UUID, uuid.UUID] = Lru(cache_size)
        self._matches: Lru[uuid.UUID, MatchFacts] = Lru(cache_size)

    def owners(self, agent_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        found: dict[uuid.UUID, uuid.UUID] = {}
        with self._lock:
            for agent_id in agent_ids:
                owner = self._owners.get(agent_id)
                if owner is not None:
                    found[agent_id] = owner
        missing = [agent_id for agent_id in agent_ids if agent_id not in found]
        if not missing:
            return found
        with self._uow() as uow:
            rows = uow.session.execute(select(Agent.id, Agent.user_id).where(Agent.id.in_(missing))).all()
        with self._lock:
            for agent_id, user_id in rows:
                self._owners.put(agent_id, user_id)
                found[agent_id] = user_id
        return found

    def match(self, match_id: uuid.UUID) -> MatchFacts | None:
        with self._lock:
            cached = self._matches.get(match_id)
        if cached is not None:
            return cached
        first, second = aliased(Agent), aliased(Agent)
        query = (
            select(Match.agent1_id, Match.agent2_id, first.user_id, second.user_id, Match.is_public)
            .join(first, first.id == Match.agent1_id)
            .join(second, second.id == Match.agent2_id)
            .where(Match.id == match_id)
        )
        with self._uow() as uow:
            row = uow.session.execute(query).first()
        if row is None:
            return None  # not remembered: it may yet be written
        facts = MatchFacts(
            agent1_id=row[0], agent2_id=row[1], owner1_id=row[2], owner2_id=row[3], is_public=bool(row[4])
        )
        with self._lock:
            self._matches.put(match_id, facts)
            self._owners.put(facts.agent1_id, facts.owner1_id)
            self._owners.put(facts.agent2_id, facts.owner2_id)
        return facts
