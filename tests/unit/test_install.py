"""The installation is reproducible: uv.lock pins everything, and this venv came from it."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _lock() -> list[dict[str, Any]]:
    packages: list[dict[str, Any]] = tomllib.loads((REPO / "uv.lock").read_text())["package"]
    return packages


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


class TestLockFile:
    def test_every_declared_dependency_is_locked(self) -> None:
        """Each dependency of pyproject.toml (runtime, test and dev) has one locked version."""
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        declared = {_name(r) for r in project["dependencies"]}
        for extra in project["optional-dependencies"].values():
            declared |= {_name(r) for r in extra if not r.startswith(project["name"])}
        locked: dict[str, list[str]] = {}
        for package in _lock():
            locked.setdefault(package["name"], []).append(package["version"])
        assert declared <= locked.keys()
        assert {name: v for name, v in locked.items() if name in declared and len(v) > 1} == {}

    def test_every_locked_artifact_has_a_hash(self) -> None:
        """Every wheel and sdist in the lock carries a sha256, so an install checks what it
        downloads."""
        for package in _lock():
            if "registry" not in package.get("source", {}):
                continue
            artifacts = [*package.get("wheels", []), *filter(None, [package.get("sdist")])]
            assert artifacts, package["name"]
            assert all(a["hash"].startswith("sha256:") for a in artifacts), package["name"]


class TestInstalledEnvironment:
    def test_installed_versions_are_the_locked_ones(self) -> None:
        """`make venv` installed exactly the locked version of every package it locked (so two
        fresh clones run the same code)."""
        mismatched = {}
        for package in _lock():
            if "registry" not in package.get("source", {}):
                continue
            try:
                installed = metadata.version(package["name"])
            except metadata.PackageNotFoundError:
                continue  # a platform- or Python-specific dependency this machine skips
            if installed != package["version"]:
                mismatched[package["name"]] = (installed, package["version"])
        assert mismatched == {}
