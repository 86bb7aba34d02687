"""The app's setup through an SSH bastion, as a user drives it (Pilot): a new credential with a
tunnel, its generated key's authorized_keys line shown to copy, the bastion's host key trusted
after the test shows its fingerprint, then a passing test. Real SSH server, keyring, stand-ins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_tui import SIZE, World, click, type_into, wait_for, world  # noqa: F401 - the fixture
from textual.widgets import Checkbox, RadioButton, Select

from cdi_tui.secret_store import KeyringCredentials, ssh_key_account
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
        assert line.startswith(f'restrict,port-forwarding,permitopen="127.0.0.1:{world.redshift.port}" ssh-ed25519 ')
        bastion.authorized_keys = line  # the administrator adds the line shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        private_key = KeyringCredentials().get(ssh_key_account("private"))
        assert private_key is not None and private_key.split()[-1] not in line
        await type_into(pilot, "#field-name Input", "private-events")
        await type_into(pilot, "#field-emails Input", "crm@example.com")
        screen.query_one("#type-events", RadioButton).value = True  # chosen: no data type is preselected
        await click(pilot, "#next-2")
        await click(pilot, "#run-test")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
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
