"""Connections through an SSH tunnel, on real components: redshift-connector -> the tunnel's
Unix socket -> asyncssh client -> a real SSH server on 127.0.0.1 (asyncssh's server, honouring
the printed authorized_keys line) -> the Redshift proxy -> PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import FAST, SyncEnv

from cdi_tui.checks import run_connection_test
from cdi_tui.config import Credential
from cdi_tui.engine.sync import Progress
from cdi_tui.paths import app_paths
from cdi_tui.secret_store import ssh_key_account
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.postgres import RedshiftStandIn
from cdi_tui.standins.ssh_bastion import SshBastion
from cdi_tui.warehouse import errors as kinds
from cdi_tui.warehouse.errors import WarehouseError
from cdi_tui.warehouse.tunnel import HostKeyError, authorized_keys_line, generate_key_pair

pytestmark = pytest.mark.real


class Tunnelled:
    """A SyncEnv whose credential goes through a bastion stand-in."""

    def __init__(self, env: SyncEnv, tmp_path: Path) -> None:
        self.env = env
        self.private_key, self.public_key = generate_key_pair("cdi-tui:warehouse")
        self.bastion = self.start_bastion()
        self.known_hosts = tmp_path / "user-home" / ".ssh" / "known_hosts"

    def start_bastion(self, *, port: int = 0, host_key: object = None, permit_port: int | None = None) -> SshBastion:
        line = authorized_keys_line(self.public_key, "127.0.0.1", permit_port or self.env.redshift.port)
        return SshBastion(line, port=port, host_key=host_key).start()

    def restart_bastion(self, **changes: object) -> SshBastion:
        port, host_key = self.bastion.port, self.bastion.host_key
        self.bastion.stop()
        options: dict[str, object] = {"port": port, "host_key": host_key, **changes}
        self.bastion = self.start_bastion(**options)  # type: ignore[arg-type]
        return self.bastion

    def use_tunnel(self, *, accepted: bool = True) -> Credential:
        credential = self.env.ws.config().credentials["warehouse"]
        credential = replace(
            credential,
            ssh_host="127.0.0.1",
            ssh_port=self.bastion.port,
            ssh_user="tunnel",
            ssh_host_key=self.bastion.host_key_line if accepted else None,
        )
        self.env.ws.add_credential(credential, self.env.password, replace_existing=True)
        self.env.secrets.set(ssh_key_account("warehouse"), self.private_key)
        return credential

    def test(self, name: str) -> WarehouseError | None:
        result = self.env.ws.test_integration(name)
        return result.error

    def stop(self) -> None:
        self.bastion.stop()


@pytest.fixture
def tunnel(
    redshift: RedshiftStandIn, braze: BrazeStandIn, tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tunnelled]:
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))  # this test's own ~/.ssh/known_hosts
    env = SyncEnv(redshift, braze, app_paths(tmp_path / "home"), unique_name, f"{unique_name}_u", f"pw-{unique_name}")
    env.setup()
    tunnelled = Tunnelled(env, tmp_path)
    yield tunnelled
    tunnelled.stop()
    env.teardown()


def test_test_preview_and_sync_go_through_the_tunnel(tunnel: Tunnelled) -> None:
    env = tunnel.env
    credential = tunnel.use_tunnel()
    env.create_integration("people")  # runs the connection test through the tunnel, then activates
    env.fill("people", 1_200)
    result = run_connection_test(credential, env.ws.integration("people").table_name, "attributes", env.secrets, 5)
    assert result.ok, result.error
    assert result.preview is not None and [row[1] for row in result.preview.rows] == [f"user-{n}" for n in range(1200, 1195, -1)]
    forwards_before = tunnel.bastion.stats.forwards
    record = env.sync("people")
    assert record.status == "success" and record.rows_sent == 1_200
    assert set(env.external_ids()) == {f"user-{n}" for n in range(1, 1_201)}
    assert tunnel.bastion.stats.forwards > forwards_before  # the sync's connection went through the bastion
    # without the bastion there is no way in: the tunnel is the route, not a side path
    tunnel.bastion.stop()
    error = tunnel.test("people")
    assert error is not None and error.kind == kinds.SSH_UNREACHABLE
    assert "127.0.0.1" in error.message and str(tunnel.bastion.port) in error.message


def test_an_unknown_host_key_is_shown_and_accepted_only_by_its_fingerprint(tunnel: Tunnelled) -> None:
    env = tunnel.env
    credential = tunnel.use_tunnel(accepted=False)
    env.create_integration("people", activate=False)
    signed_in_before = tunnel.bastion.stats.signed_in
    error = tunnel.test("people")
    assert isinstance(error, HostKeyError) and error.kind == kinds.SSH_HOST_KEY_UNKNOWN
    assert error.shown_fingerprint == tunnel.bastion.fingerprint
    assert tunnel.bastion.fingerprint in error.message and "--accept-host-key" in error.fix
    assert tunnel.bastion.stats.signed_in == signed_in_before  # nothing signed in to an unverified host
    other_fingerprint = SshBastion().host_key.get_fingerprint("sha256")
    with pytest.raises(WarehouseError) as refused:
        env.ws.accept_host_key(credential.name, other_fingerprint)
    assert tunnel.bastion.fingerprint in refused.value.message and other_fingerprint in refused.value.message
    assert env.ws.config().credentials["warehouse"].ssh_host_key is None
    env.ws.accept_host_key(credential.name, tunnel.bastion.fingerprint)
    assert env.ws.config().credentials["warehouse"].ssh_host_key == tunnel.bastion.host_key_line
    assert tunnel.test("people") is None


def test_a_host_key_in_known_hosts_is_trusted(tunnel: Tunnelled) -> None:
    tunnel.use_tunnel(accepted=False)
    tunnel.known_hosts.parent.mkdir(parents=True)
    tunnel.known_hosts.write_text(f"[127.0.0.1]:{tunnel.bastion.port} {tunnel.bastion.host_key_line}\n", encoding="utf-8")
    tunnel.env.create_integration("people", activate=False)
    assert tunnel.test("people") is None


def test_a_changed_host_key_refuses_the_connection_naming_both_fingerprints(tunnel: Tunnelled) -> None:
    tunnel.use_tunnel()
    tunnel.env.create_integration("people")
    old_fingerprint = tunnel.bastion.fingerprint
    impostor = tunnel.restart_bastion(host_key=SshBastion().host_key)
    error = tunnel.test("people")
    assert isinstance(error, HostKeyError) and error.kind == kinds.SSH_HOST_KEY_CHANGED
    assert old_fingerprint in error.message and impostor.fingerprint in error.message
    assert "CHANGED" in error.message
    assert impostor.stats.signed_in == 0 and impostor.stats.forwards == 0
    # a sync refuses the same way and reads nothing
    record = tunnel.env.sync("people")
    assert record.status == "error" and old_fingerprint in (record.error or "") and record.rows_read == 0


def test_a_key_the_bastion_does_not_know_is_refused(tunnel: Tunnelled) -> None:
    tunnel.use_tunnel()
    tunnel.env.create_integration("people", activate=False)
    stranger_private_key, _ = generate_key_pair("someone-else")
    tunnel.env.secrets.set(ssh_key_account("warehouse"), stranger_private_key)
    error = tunnel.test("people")
    assert error is not None and error.kind == kinds.SSH_AUTH
    assert "tunnel" in error.message and "authorized_keys" in error.fix
    assert "PRIVATE KEY" not in str(error) and stranger_private_key not in str(error)


def test_a_forward_the_bastion_refuses_names_that_hop(tunnel: Tunnelled) -> None:
    tunnel.use_tunnel()
    tunnel.env.create_integration("people", activate=False)
    tunnel.restart_bastion(permit_port=tunnel.env.redshift.port + 1)  # permitopen names another port
    error = tunnel.test("people")
    assert error is not None and error.kind == kinds.SSH_FORWARD_REFUSED
    assert f"127.0.0.1:{tunnel.env.redshift.port}" in error.message and "permitopen" in error.fix


def test_a_missing_generated_key_says_how_to_make_one(tunnel: Tunnelled) -> None:
    tunnel.use_tunnel()
    tunnel.env.create_integration("people", activate=False)
    tunnel.env.secrets.delete(ssh_key_account("warehouse"))
    error = tunnel.test("people")
    assert error is not None and error.kind == kinds.SSH_KEY and "--ssh-generate-key" in error.fix


def test_the_tunnel_server_stopped_mid_sync_then_a_resume_loses_nothing(tunnel: Tunnelled) -> None:
    env = tunnel.env
    tunnel.use_tunnel()
    env.create_integration("cut")
    env.fill("cut", 5_000)
    stopped = threading.Event()

    def stop_the_bastion(progress: Progress) -> None:
        if progress.read >= 1 and not stopped.is_set():
            stopped.set()
            tunnel.bastion.stop()

    broken = env.sync("cut", replace(FAST, fetch_rows=500), progress=stop_the_bastion)
    assert stopped.is_set()
    assert broken.status == "error", broken
    assert "tunnel" in (broken.error or "").lower() and "cut" in (broken.error or "")
    assert broken.rows_sent < 5_000
    tunnel.restart_bastion()  # the bastion is back, same address and host key
    resumed = env.sync("cut")
    assert resumed.status == "success"
    delivered = env.external_ids()
    assert set(delivered) == {f"user-{n}" for n in range(1, 5_001)}
    assert len(delivered) - 5_000 <= 500  # re-sent rows are bounded by what was in flight


def test_tls_is_still_required_through_the_tunnel(tunnel: Tunnelled) -> None:
    """The tunnel is no reason to drop TLS: with verify-full the driver still asks the cluster
    (here the stand-in, which offers no TLS) for TLS, under the cluster's own host name."""
    credential = tunnel.use_tunnel()
    tunnel.env.create_integration("people", activate=False)
    tunnel.env.ws.add_credential(replace(credential, sslmode="verify-full"), tunnel.env.password, replace_existing=True)
    error = tunnel.test("people")
    assert error is not None and error.kind == kinds.TLS, error
    assert tunnel.bastion.stats.forwards >= 1  # the refusal came through the tunnel, from the cluster
