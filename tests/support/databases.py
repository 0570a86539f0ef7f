"""Fresh, migrated databases per test: copied from a template, so each test starts clean and fast."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool
from sqlalchemy.engine import make_url

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
    TEMPLATE = "rlarena_template"

    def __init__(self, server_url: str) -> None:
        self._server_url = server_url
        # Autocommit from the first statement: CREATE / DROP DATABASE refuse to run in a transaction.
        self._admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with self._autocommit() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {self.TEMPLATE}"))
            connection.execute(text(f"CREATE DATABASE {self.TEMPLATE}"))
        engine = make_engine(self._url(self.TEMPLATE))
        upgrade_to_head(engine)
        engine.dispose()

    def _autocommit(self) -> Connection:
        return self._admin.connect()

    def _url(self, name: str) -> str:
        return make_url(self._server_url).set(database=name).render_as_string(hide_password=False)

    def create(self, _folder: Path) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self._autocommit() as connection:
            connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {self.TEMPLATE}"))
        return self._url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self._autocommit() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    @property
    def admin(self) -> Engine:
        return self._admin
