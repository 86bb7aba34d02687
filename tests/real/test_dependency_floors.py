"""The declared dependency floors stay past the vulnerabilities fixed upstream: a floor lowered
by accident (or a copied old requirement) fails here, whatever pip happens to install today."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# package -> (the first version with the fixes, the advisories it fixes)
FIXED_IN = {
    "asyncssh": ("2.14.2", "CVE-2023-46445, CVE-2023-46446, CVE-2023-48795 (Terrapin)"),
    "orjson": ("3.9.15", "CVE-2024-27454"),
    "redshift-connector": ("2.1.5", "CVE-2024-12745"),
    "aiohttp": ("3.12.14", "CVE-2025-53643"),
    "cryptography": ("44.0.1", "CVE-2024-26130, CVE-2024-12797"),
}


def declared() -> dict[str, list[Requirement]]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        texts.extend(text for text in extra if not text.startswith("cdi-tui"))
    found: dict[str, list[Requirement]] = {}
    for text in texts:
        requirement = Requirement(text)
        found.setdefault(requirement.name.lower(), []).append(requirement)
    return found


@pytest.mark.parametrize("package", sorted(FIXED_IN))
def test_no_declared_version_range_admits_a_version_with_a_known_fixed_vulnerability(package: str) -> None:
    fixed, advisories = FIXED_IN[package]
    requirements = declared().get(package)
    assert requirements, f"{package} must be declared with a floor at {fixed} ({advisories})"
    for requirement in requirements:
        floors = [Version(spec.version) for spec in requirement.specifier if spec.operator in (">=", ">", "==", "~=")]
        assert floors and max(floors) >= Version(fixed), f"{requirement} admits versions before {fixed} ({advisories})"
