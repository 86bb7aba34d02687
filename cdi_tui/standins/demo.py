"""The built-in demo: both stand-ins, demo tables and a ready config in a temporary home.

``DemoEnvironment`` never touches the user's own config or keyring: it writes its config
under a fresh temporary folder and keeps its secrets in memory.
"""

from __future__ import annotations

import secrets as random_tokens
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cdi_tui.config import DEFAULT_WORKSPACE, BrazeSettings, Config, ConfigStore, Credential, Integration
from cdi_tui.enums import DataType
from cdi_tui.paths import AppPaths, app_paths
from cdi_tui.secret_store import MemoryCredentials, braze_key_account, credential_account
from cdi_tui.standins.braze import BrazeStandIn, FaultPlan
from cdi_tui.standins.demo_data import (
    BULK_TABLE,
    DEMO_CATALOG,
    DEMO_CATALOG_FIELDS,
    DEMO_DATABASE,
    DEMO_TABLES,
    DEMO_USER,
    DemoTable,
    create_bulk_table,
    create_demo_tables,
)
from cdi_tui.standins.postgres import RedshiftStandIn

if TYPE_CHECKING:
    from cdi_tui.workspace import Workspace

DEMO_CREDENTIAL = "demo-redshift"
DEMO_CONTACT = "data-team@example.com"
BULK_INTEGRATION = "demo-attributes-large"


def demo_integration(name: str, table: DemoTable, frequency: str = "every 15 minutes") -> Integration:
    return Integration(
        name=name,
        credential=DEMO_CREDENTIAL,
        table=f"{DEMO_DATABASE}.{table.qualified}",
        data_type=table.data_type,
        frequency=frequency,
        contact_emails=(DEMO_CONTACT,),
        catalog=DEMO_CATALOG if table.data_type == DataType.CATALOGS else None,
    )


@dataclass
class DemoEnvironment:
    """Start with :meth:`start` (or ``with``); everything goes away on :meth:`stop`."""

    home: Path | None = None
    redshift: RedshiftStandIn | None = None
    braze: BrazeStandIn | None = None
    secrets: MemoryCredentials = field(default_factory=MemoryCredentials)
    braze_latency_seconds: float = 0.0  # > 0 makes the Braze stand-in answer like a distant Braze
    _own_home: bool = False

    @property
    def paths(self) -> AppPaths:
        assert self.home is not None
        return app_paths(self.home)

    def start(self) -> DemoEnvironment:
        if self.home is None:
            self.home = Path(tempfile.mkdtemp(prefix="cdi-tui-demo-"))
            self._own_home = True
        self.paths.ensure()
        database_password = random_tokens.token_urlsafe(18)
        api_key = "demo-" + random_tokens.token_hex(16)
        try:
            self.redshift = RedshiftStandIn().start()
            self.braze = BrazeStandIn(api_keys=(api_key,), faults=FaultPlan(latency_seconds=self.braze_latency_seconds)).start()
            self.braze.define_catalog(DEMO_CATALOG, DEMO_CATALOG_FIELDS, "The demo's product catalog")
            create_demo_tables(self.redshift, database_password)
        except BaseException:
            self.stop()
            raise
        self.secrets.set(credential_account(DEMO_CREDENTIAL), database_password)
        self.secrets.set(braze_key_account(), api_key)
        credential = Credential(
            name=DEMO_CREDENTIAL,
            host=self.redshift.host,
            port=self.redshift.port,
            database=DEMO_DATABASE,
            user=DEMO_USER,
            sslmode="disable",  # the stand-in speaks no TLS; loopback only
        )
        integrations = {
            f"demo-{table.data_type}": demo_integration(f"demo-{table.data_type}", table)
            for table in DEMO_TABLES
            if not table.free
        }
        config = Config(
            workspaces={DEFAULT_WORKSPACE: BrazeSettings(endpoint=self.braze.url, time_zone="UTC")},
            credentials={DEMO_CREDENTIAL: credential},
            integrations=integrations,
        )
        ConfigStore(self.paths.config_file).update(lambda _current: config)
        return self

    def workspace(self) -> Workspace:
        """The demo's workspace: its home, and its secrets in this process's memory."""
        from cdi_tui.workspace import Workspace

        return Workspace(self.paths, self.secrets)

    def create_bulk_table(self) -> Integration:
        """Fill the large table (300,000 attribute rows; seconds of work) and return its integration, not yet saved."""
        assert self.redshift is not None
        create_bulk_table(self.redshift)
        return demo_integration(BULK_INTEGRATION, BULK_TABLE, frequency="daily at 02:00")

    def stop(self) -> None:
        if self.braze is not None:
            self.braze.stop()
            self.braze = None
        if self.redshift is not None:
            self.redshift.stop()
            self.redshift = None
        if self._own_home and self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> DemoEnvironment:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
