"""Write screenshots/*.svg: the app driven headless on the fixed world of the snapshot tests.

python tests/make_screenshots.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tui_world import SCREENS, SIZE, make_app, settle

OUT = Path(__file__).resolve().parents[1] / "screenshots"


async def shoot(name: str, empty: bool = False) -> Path:
    with tempfile.TemporaryDirectory() as home:
        app = make_app(Path(home) / "home", empty=empty)
        async with app.run_test(size=SIZE) as pilot:
            await (settle(pilot) if empty else SCREENS[name](pilot))
            await pilot.pause(0.2)
            path = OUT / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(OUT))
        app.workspace.close()
        return path


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name in SCREENS:
        print(await shoot(name))
    print(await shoot("dashboard-empty", empty=True))


if __name__ == "__main__":
    asyncio.run(main())
