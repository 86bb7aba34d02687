"""A ready integration on the real stand-ins, for engine and command-line tests."""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cdi_tui.config import BrazeSettings, Credential, Integration
from cdi_tui.engine.changes import DeliveredStore
from cdi_tui.engine.sync import DELIVERED_FILE, SyncEngine, SyncOptions
from cdi_tui.paths import AppPaths
from cdi_tui.runlog import RunLog, RunRecord
from cdi_tui.secret_store import CredentialsService, MemoryCredentials
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.demo_data import create_table_sql
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident, quote_literal
from cdi_tui.workspace import Workspace

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = SyncOptions(checkpoint_seconds=0.0)


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


@dataclass
class SyncEnv:
    redshift: RedshiftStandIn
    braze: BrazeStandIn
    paths: AppPaths
    schema: str
    user: str
    password: str
    api_key: str = "test-key"
    secrets: CredentialsService = field(default_factory=MemoryCredentials)
    workspace: Workspace | None = None
    _runlog: RunLog | None = None
    _delivered: DeliveredStore | None = None

    @property
    def ws(self) -> Workspace:
        assert self.workspace is not None
        return self.workspace

    @property
    def runlog(self) -> RunLog:
        """The run log, opened apart from the workspace's: for the engine and for looking inside."""
        if self._runlog is None:
            self._runlog = RunLog(self.paths.run_log)
        return self._runlog

    @property
    def delivered(self) -> DeliveredStore:
        """What was delivered, for "send only changed attributes" (opened apart from the workspace's)."""
        if self._delivered is None:
            self._delivered = DeliveredStore(self.paths.data_dir / DELIVERED_FILE)
        return self._delivered

    def setup(self) -> SyncEnv:
        self.redshift.create_user(self.user, self.password)
        self.redshift.admin_execute(
            [
                f"CREATE SCHEMA {quote_ident(self.schema)}",
                f"GRANT USAGE ON SCHEMA {quote_ident(self.schema)} TO {quote_ident(self.user)}",
            ]
        )
        self.workspace = Workspace(self.paths, self.secrets)
        self.ws.set_braze(BrazeSettings(endpoint=self.braze.url), self.api_key)
        credential = Credential(
            name="warehouse", host="127.0.0.1", port=self.redshift.port, database="postgres", user=self.user, sslmode="disable"
        )
        self.ws.add_credential(credential, self.password)
        return self

    def teardown(self) -> None:
        if self.workspace is not None:
            self.workspace.close()
        for store in (self._runlog, self._delivered):
            if store is not None:
                store.close()
        self.redshift.admin_execute(f"DROP SCHEMA {quote_ident(self.schema)} CASCADE")

    def create_integration(
        self,
        name: str,
        data_type: str = "attributes",
        *,
        table: str | None = None,
        contact_columns: bool = True,
        update_existing_only: bool = False,
        activate: bool = True,
    ) -> Integration:
        table = table or name.replace("-", "_")
        self.redshift.admin_execute(
            [
                create_table_sql(self.schema, table, data_type, with_contact_columns=contact_columns),
                f"GRANT SELECT ON {quote_ident(self.schema)}.{quote_ident(table)} TO {quote_ident(self.user)}",
            ]
        )
        integration = Integration(
            name=name,
            credential="warehouse",
            table=f"{self.schema}.{table}",
            data_type=data_type,
            contact_emails=("ops@example.com",),
            update_existing_only=update_existing_only,
        )
        self.ws.add_integration(integration)
        if activate:
            result = self.ws.test_integration(name)
            assert result.ok, result.error
            self.ws.activate(name)
        return self.ws.integration(name)

    def insert(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows (dicts of column -> value; dict/list payloads are JSON-encoded)."""
        table = self.ws.integration(name).table_name
        statements = []
        for values in rows:
            columns, literals = [], []
            for column, value in values.items():
                columns.append(quote_ident(column))
                if value is None:
                    literals.append("NULL")
                elif isinstance(value, datetime):
                    literals.append(quote_literal(value.isoformat()) + "::timestamptz")
                elif isinstance(value, (dict, list)):
                    literals.append(quote_literal(json.dumps(value)))
                else:
                    literals.append(quote_literal(str(value)))
            statements.append(f"INSERT INTO {table.sql} ({', '.join(columns)}) VALUES ({', '.join(literals)})")
        self.redshift.admin_execute(statements)

    def fill(self, name: str, count: int, start: int = 1, seconds_apart: float = 1.0, payload_sql: str | None = None) -> None:
        """Fill ``count`` attribute-style rows fast, server-side: user-N at BASE + N seconds."""
        table = self.ws.integration(name).table_name
        payload = payload_sql or "'{\"n\": ' || g || '}'"
        self.redshift.admin_execute(
            f"INSERT INTO {table.sql} (updated_at, external_id, payload) "
            f"SELECT timestamptz '{BASE.isoformat()}' + (g * {seconds_apart} || ' seconds')::interval, 'user-' || g, {payload} "
            f"FROM generate_series({start}, {start + count - 1}) g"
        )

    def engine(self, clock: Any = None) -> SyncEngine:
        config = self.ws.config()
        if clock is None:
            return SyncEngine(config, self.secrets, self.runlog, self.paths.data_dir / "locks")
        return SyncEngine(config, self.secrets, self.runlog, self.paths.data_dir / "locks", clock=clock)

    def sync(self, name: str, options: SyncOptions = FAST, **kwargs: Any) -> RunRecord:
        return self.engine(kwargs.pop("clock", None)).run(name, options, **kwargs)

    def external_ids(self, array: str = "attributes") -> list[str]:
        return [obj["external_id"] for obj in self.braze.objects(array) if "external_id" in obj]


def fill_disk(folder: Path, leave_bytes: int) -> Path:
    """Fill the file system of ``folder`` up to ``leave_bytes`` free; returns the filler file."""
    filler = folder / "filler"
    # unbuffered: a write the disk takes only in part leaves nothing behind for close() to fail on
    with open(filler, "wb", buffering=0) as stream:
        try:
            while True:
                stream.write(b"\0" * 65536)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    os.truncate(filler, max(0, filler.stat().st_size - leave_bytes))
    return filler
