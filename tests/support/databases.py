"""Fresh, migrated databases per test: copied from a template, so each test starts clean and fast."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rlarena.adapters.db.engine import make_engine, normalise_url
from rlarena.adapters.db.migrate import upgrade_to_head


class SqliteDatabases:
    def __init__(self, folder: Path) -> None:
        self._template = folder / "template.db"
        engine = make_engine(f"sqlite:///{self._template}")
        upgrade_to_head(engine)
        engine.dispose()

    def create(self, folder: Path) -> str:
        target = folder / "rlarena.db"
        shutil.copyfile(self._template, target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        """The file lives in the test's tmp_path."""


class PostgresDatabases:
    """One migrated database, emptied before each test (TRUNCATE is far quicker than CREATE DATABASE)."""

    NAME = "rlarena_test"
    KEEP = {"environments", "alembic_version"}

    def __init__(self, server_url: str) -> None:
        self._server_url = server_url
        # Autocommit from the first statement: CREATE / DROP DATABASE refuse to run in a transaction.
        self._admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with self._admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {self.NAME}"))
            connection.execute(text(f"CREATE DATABASE {self.NAME}"))
        self.url = make_url(server_url).set(database=self.NAME).render_as_string(hide_password=False)
        self._engine = make_engine(self.url, pool_size=1, max_overflow=0)
        upgrade_to_head(self._engine)
        with self._engine.connect() as connection:
            tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            self._tables = sorted(set(tables) - self.KEEP)

    def create(self, _folder: Path) -> str:
        with self._engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(self._tables)} CASCADE"))
        return self.url

    def drop(self, url: str) -> None:
        """Emptied by the next test's create()."""

    def close(self) -> None:
        self._engine.dispose()
