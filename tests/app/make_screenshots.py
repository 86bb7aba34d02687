"""Write screenshots/*.svg: the app driven headless on the fixed world of the snapshot tests.

python tests/app/make_screenshots.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # helpers

from tui_world import SCREENS, SIZES, make_app, settle

OUT = Path(__file__).resolve().parents[2] / "screenshots"
README_SHOTS = (
    "dashboard",
    "sync-progress",
    "wizard-connection",
    "wizard-details",
    "wizard-test",
    "integration",
    "integration-settings",
    "failed-rows",
    "credentials",
    "credential-form",
    "credential-form-tunnel",
    "ssh-public-key",
    "help",
    "row-detail",
    "integration-test",
    "dashboard-filter",
)


async def shoot(name: str, *, size: str = "140x45", empty: bool = False, theme: str | None = None, suffix: str = "") -> Path:
    with tempfile.TemporaryDirectory() as home:
        app = make_app(Path(home) / "home", empty=empty)
        async with app.run_test(size=SIZES[size]) as pilot:
            if theme is not None:
                app.theme = theme
            await (settle(pilot) if empty else SCREENS[name](pilot))
            await pilot.pause(0.3)
            path = OUT / f"{name}{suffix}.svg"
            app.save_screenshot(filename=path.name, path=str(OUT))
        app.workspace.close()
        return path


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.svg"):
        old.unlink()
    for name in README_SHOTS:
        print(await shoot(name))
    print(await shoot("dashboard-empty", empty=True))
    print(await shoot("sync-progress", size="80x24", suffix="-80x24"))
    print(await shoot("integration", size="80x24", suffix="-80x24"))
    print(await shoot("dashboard", theme="cdi-light", suffix="-light"))


if __name__ == "__main__":
    asyncio.run(main())
