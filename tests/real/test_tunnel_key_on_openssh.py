"""The printed authorized_keys line on a real OpenSSH sshd (127.0.0.1): the tunnel key opens the
tunnel to the cluster and can do nothing else: no command, no shell, no ``-R`` listener."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import SyncEnv
from real_sshd import RealSshd, sshd_unavailable

from cdi_tui.secret_store import ssh_key_account
from cdi_tui.standins.braze import BrazeStandIn
from cdi_tui.standins.postgres import RedshiftStandIn
from cdi_tui.warehouse.tunnel import authorized_keys_line, generate_key_pair

pytestmark = pytest.mark.real


class Bastion:
    def __init__(self, folder: Path, redshift_port: int) -> None:
        self.private_key, self.public_key = generate_key_pair("cdi-tui:warehouse")
        self.line = authorized_keys_line(self.public_key, "127.0.0.1", redshift_port)
        self.key_file = folder / "tunnel_key"
        self.key_file.write_text(self.private_key, encoding="ascii")
        self.key_file.chmod(0o600)
        self.sshd = RealSshd(folder / "sshd", self.line).start()


@pytest.fixture
def bastion(redshift: RedshiftStandIn, tmp_path: Path) -> Iterator[Bastion]:
    why_not = sshd_unavailable()
    if why_not:
        pytest.skip(why_not)
    started = Bastion(tmp_path, redshift.port)
    yield started
    started.sshd.stop()


def test_the_tunnel_key_cannot_run_a_command_on_the_bastion(bastion: Bastion) -> None:
    ran = bastion.sshd.ssh(bastion.key_file, "root@127.0.0.1", "id; echo ran-on-the-bastion")
    assert "ran-on-the-bastion" not in ran.stdout and "uid=" not in ran.stdout, ran
    assert ran.returncode != 0
    # the key itself was accepted (it is the forced command that refused), not a sign-in failure
    assert "Permission denied" not in ran.stderr, ran.stderr


def test_the_tunnel_key_cannot_open_a_remote_listener(bastion: Bastion) -> None:
    listen_port = bastion.sshd.port + 1 if bastion.sshd.port < 65535 else bastion.sshd.port - 1
    try:
        forwarded = bastion.sshd.ssh(
            bastion.key_file,
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-R",
            f"127.0.0.1:{listen_port}:127.0.0.1:9",
            "root@127.0.0.1",
            timeout=15,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the bastion accepted a -R listener for the tunnel key (ssh -N kept running)")
    assert forwarded.returncode == 255, forwarded
    assert "remote port forwarding failed" in forwarded.stderr, forwarded.stderr


def test_the_tunnel_still_reaches_the_cluster_through_that_bastion(
    redshift: RedshiftStandIn,
    bastion: Bastion,
    tmp_path: Path,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
    braze: BrazeStandIn,
) -> None:
    from cdi_tui.paths import app_paths

    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    env = SyncEnv(redshift, braze, app_paths(tmp_path / "home"), unique_name, f"{unique_name}_u", f"pw-{unique_name}")
    env.setup()
    try:
        credential = replace(
            env.ws.config().credentials["warehouse"],
            ssh_host="127.0.0.1",
            ssh_port=bastion.sshd.port,
            ssh_user="root",
            ssh_host_key=bastion.sshd.host_key_line,
        )
        env.ws.add_credential(credential, env.password, replace_existing=True)
        env.secrets.set(ssh_key_account("warehouse"), bastion.private_key)
        env.create_integration("people")  # runs the connection test through OpenSSH, then activates
        env.fill("people", 300)
        record = env.sync("people")
        assert record.status == "success" and record.rows_sent == 300
        # the test and the sync each signed in to OpenSSH with the tunnel key
        assert bastion.sshd.log.read_text(errors="replace").count("Accepted publickey for root") >= 2
    finally:
        env.teardown()
