"""The app's setup through an SSH bastion, as a user drives it (Pilot): a new credential with a
tunnel, its generated key's authorized_keys line shown to copy, the bastion's host key trusted
after the test shows its fingerprint, then a passing test. Real SSH server, keyring, stand-ins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_tui import SIZE, World, click, type_into, wait_for, world  # noqa: F401 - the fixture
from textual.widgets import Checkbox, RadioButton, Select

from cdi_tui.secret_store import ssh_key_account
from cdi_tui.standins.ssh_bastion import SshBastion
from cdi_tui.tui.app import CdiApp
from cdi_tui.tui.screens.modals import ConfirmModal, TextModal
from cdi_tui.tui.screens.wizard import NewIntegrationScreen

pytestmark = pytest.mark.real


@pytest.fixture
def bastion() -> Iterator[SshBastion]:
    server = SshBastion().start()
    yield server
    server.stop()


async def test_the_setup_goes_through_a_bastion_with_a_generated_key(
    world: World,  # noqa: F811
    bastion: SshBastion,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("user-home")))  # no ~/.ssh/known_hosts of the machine's
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewIntegrationScreen))
        screen = app.screen
        assert screen.query_one("#field-auth Select", Select).value == "password"  # the two sign-in kinds are offered
        await type_into(pilot, "#field-credential-name Input", "private")
        await type_into(pilot, "#field-host Input", "127.0.0.1")
        await type_into(pilot, "#field-port Input", str(world.redshift.port))
        await type_into(pilot, "#field-database Input", "postgres")
        await type_into(pilot, "#field-user Input", world.user)
        await type_into(pilot, "#field-password Input", world.password)
        screen.query_one("#field-sslmode Select", Select).value = "disable"
        assert not screen.query_one("#ssh-fields").display  # the tunnel's fields show once asked for
        screen.query_one("#use-ssh", Checkbox).focus()
        await pilot.press("space")
        await pilot.pause()
        assert screen.query_one("#ssh-fields").display
        await type_into(pilot, "#field-ssh_host Input", "127.0.0.1")
        await type_into(pilot, "#field-ssh_port Input", str(bastion.port))
        await type_into(pilot, "#field-ssh_user Input", "tunnel")
        await type_into(pilot, "#field-table Input", f"{world.schema}.events")
        await click(pilot, "#next-1")
        await wait_for(pilot, lambda: isinstance(app.screen, TextModal))
        line = app.screen.text
        assert line.startswith(
            f'restrict,port-forwarding,permitopen="127.0.0.1:{world.redshift.port}",command="/bin/false",'
            'permitlisten="127.0.0.1:1" ssh-ed25519 '
        )
        bastion.authorized_keys = line  # the administrator adds the line shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        private_key = app.workspace._secrets.get(ssh_key_account("private"))
        assert private_key is not None
        key_body = [part for part in private_key.splitlines() if part and not part.startswith("-----")]
        assert key_body and all(part not in line for part in key_body)  # no line of the private key is shown
        await type_into(pilot, "#field-name Input", "private-events")
        await type_into(pilot, "#field-emails Input", "crm@example.com")
        screen.query_one("#type-events", RadioButton).value = True  # chosen: no data type is preselected
        await click(pilot, "#next-2")
        await click(pilot, "#run-test")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await wait_for(pilot, lambda: bool(app.screen.query("#yes")))  # composed (the screen is current before its widgets)
        assert bastion.fingerprint in app.screen.question
        assert bastion.stats.signed_in == 0  # nothing signed in before the key is trusted
        await click(pilot, "#yes")
        assert isinstance(screen, NewIntegrationScreen)
        await wait_for(pilot, lambda: app.screen is screen and not screen.test_step.activate_button.disabled)
        assert screen.test_step.preview.row_count == 100
    credential = world.workspace.config().credentials["private"]
    assert credential.ssh_host_key == bastion.host_key_line
    assert bastion.stats.forwards >= 1
    config_text = world.paths.config_file.read_text()
    assert "PRIVATE KEY" not in config_text and world.password not in config_text


async def test_a_changed_host_key_is_trusted_only_with_its_fingerprint_typed(
    world: World,  # noqa: F811
    bastion: SshBastion,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.widgets import Button

    from cdi_tui.config import Credential, Integration
    from cdi_tui.tui.screens.modals import FingerprintModal
    from cdi_tui.warehouse.tunnel import authorized_keys_line, generate_key_pair

    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("user-home")))
    private_key, public_key = generate_key_pair("cdi-tui:private")
    bastion.authorized_keys = authorized_keys_line(public_key, "127.0.0.1", world.redshift.port)
    trusted_before = SshBastion().host_key_line  # the key trusted earlier: the bastion now shows another
    credential = Credential(
        name="private", host="127.0.0.1", port=world.redshift.port, database="postgres", user=world.user, sslmode="disable",
        ssh_host="127.0.0.1", ssh_port=bastion.port, ssh_user="tunnel", ssh_host_key=trusted_before,
    )  # fmt: skip
    world.workspace.add_credential(credential, world.password)
    world.workspace._secrets.set(ssh_key_account("private"), private_key)
    world.workspace.add_integration(
        Integration(name="private-events", credential="private", table=f"{world.schema}.events", data_type="events")
    )
    app = CdiApp(world.workspace, run_schedules=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewIntegrationScreen))
        screen = app.screen
        assert isinstance(screen, NewIntegrationScreen)
        screen.saved_name = "private-events"
        screen._go(2)
        await pilot.pause()
        await click(pilot, "#run-test")
        await wait_for(pilot, lambda: isinstance(app.screen, (FingerprintModal, ConfirmModal)))
        dialog = app.screen
        await wait_for(pilot, lambda: bool(dialog.query("#yes")))  # composed (the screen is current before its widgets)
        assert bastion.fingerprint in str(getattr(dialog, "question", ""))
        # one press of the trust button does not trust a changed key
        trust = dialog.query_one("#yes", Button)
        trust.press()
        await pilot.pause(0.5)
        assert world.workspace.config().credentials["private"].ssh_host_key == trusted_before
        assert bastion.stats.signed_in == 0
        assert isinstance(dialog, FingerprintModal) and app.screen is dialog
        # a wrong fingerprint keeps it refused; the one shown, typed, trusts it
        await type_into(pilot, "#fingerprint", "SHA256:not-the-one")
        assert trust.disabled
        await type_into(pilot, "#fingerprint", bastion.fingerprint)
        assert not trust.disabled
        await click(pilot, "#yes")
        await wait_for(pilot, lambda: app.screen is screen and not screen.test_step.activate_button.disabled)
    assert world.workspace.config().credentials["private"].ssh_host_key == bastion.host_key_line
