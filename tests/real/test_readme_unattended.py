"""The README's cron and systemd examples keep secrets in a 0600 file, never on a command line
or in a unit file, and the cron line as printed really hands them to cdi-tui."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cdi_tui.standins.braze import BrazeStandIn

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def cron_line() -> str:
    block = README.split("<!-- cron-example -->", 1)[1]
    return re.search(r"```\n(.*?)\n```", block, re.S).group(1).strip()  # type: ignore[union-attr]


def systemd_unit() -> str:
    return re.search(r"```\n(\[Unit\].*?)```", README, re.S).group(1)  # type: ignore[union-attr]


def test_no_secret_is_on_a_command_line_or_in_a_unit_file() -> None:
    assert "CDI_TUI_" not in cron_line()
    unit = systemd_unit()
    assert "EnvironmentFile=" in unit
    assert not [line for line in unit.splitlines() if line.startswith(("Environment=", "ExecStart=")) and "CDI_TUI_" in line]
    assert "install -m 600 /dev/null ~/.config/cdi-tui/secrets.env" in README


def test_the_cron_line_as_printed_hands_the_secrets_file_to_cdi_tui(braze: BrazeStandIn, tmp_path: Path) -> None:
    home = tmp_path / "user-home"
    (home / ".config" / "cdi-tui").mkdir(parents=True)
    secrets_file = home / ".config" / "cdi-tui" / "secrets.env"
    subprocess.run(["install", "-m", "600", "/dev/null", str(secrets_file)], check=True)
    awkward_password = 'pa$$ w0rd"`$(id)`;'
    secrets_file.write_text(f"CDI_TUI_BRAZE_API_KEY='test-key'\nCDI_TUI_PASSWORD_PROD='{awkward_password}'\n")
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    cdi_home = tmp_path / "cdi-home"
    cdi_home.mkdir(mode=0o700)
    (cdi_home / "config.toml").write_text(f'[braze]\nendpoint = "{braze.url}"\n')
    # the README's command, run by /bin/sh as cron runs it, with cdi-tui at this interpreter
    schedule, command = cron_line().split("  ", 1)
    assert schedule == "*/5 * * * *"
    job = command.split(" >> ", 1)[0]
    environment = {"HOME": str(home), "PATH": os.environ["PATH"], "CDI_TUI_HOME": str(cdi_home)}

    def run(program: str) -> subprocess.CompletedProcess[str]:
        line = job.replace("/path/to/.venv/bin/cdi-tui run-due", program)
        assert "test-key" not in line and awkward_password not in line  # nothing secret on the command line
        return subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, env=environment, timeout=120)

    checked = run(f"{sys.executable} -m cdi_tui braze check")
    assert checked.returncode == 0 and "The API key works" in checked.stdout, checked.stderr
    reader = tmp_path / "print_password.py"
    reader.write_text("import os\nprint(os.environ['CDI_TUI_PASSWORD_PROD'])\n")
    printed = run(f"{sys.executable} {reader}")
    assert printed.stdout == awkward_password + "\n"  # the file's quoting keeps every character as it is
