"""The lock file (requirements/lock.txt) and its check (.ci/lock.py), which .ci/run runs before the tests."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "lock.txt"
SCRIPT = REPO / ".ci" / "lock.py"


@pytest.fixture(scope="module")
def lock_module():
    """.ci/lock.py imported as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("geohub_ci_lock", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(lock: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)} if pythonpath is not None else None
    return subprocess.run([sys.executable, str(SCRIPT), "check", str(lock)], capture_output=True, text=True, env=env)


def _fake_distribution(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")


def test_check_fails_listing_name_locked_and_installed_version(tmp_path):
    site = tmp_path / "site"
    _fake_distribution(site, "geohub_lock_probe", "1.0.0")
    numpy_version = importlib.metadata.version("numpy")
    lock = tmp_path / "lock.txt"
    lock.write_text(f"# a comment\nnumpy=={numpy_version}\ngeohub-lock-probe==2.0.0\nnot-a-real-package==1.0\n")
    result = _check(lock, pythonpath=site)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = [line.split() for line in result.stderr.splitlines()]
    assert ["geohub-lock-probe", "2.0.0", "1.0.0"] in rows
    assert ["not-a-real-package", "1.0", "not", "installed"] in rows
    assert not any(row and row[0] == "numpy" for row in rows), "numpy is at its locked version"
    assert "2 of the 3 packages" in result.stderr


def test_check_passes_when_locked_versions_are_installed_and_ignores_unlocked_packages(tmp_path):
    site = tmp_path / "site"
    _fake_distribution(site, "geohub_lock_probe", "1.0.0")  # installed by hand, not in the lock: not an error
    lock = tmp_path / "lock.txt"
    lock.write_text(f"numpy=={importlib.metadata.version('numpy')}\n")
    result = _check(lock, pythonpath=site)
    assert result.returncode == 0, result.stderr
    assert "1 packages" in result.stdout


def test_check_accepts_a_local_label_only_when_the_lock_has_none(lock_module):
    assert lock_module.same_version("2.13.0", "2.13.0+cpu")
    assert not lock_module.same_version("2.13.0+cpu", "2.13.0")
    assert not lock_module.same_version("2.13.0", "2.13.1")


def test_check_refuses_a_malformed_lock_naming_the_line(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy>=1.0\n")
    result = _check(lock)
    assert result.returncode == 2 and "lock.txt:1" in result.stderr and "name==version" in result.stderr


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in ("offline", "test", "pretrained"):
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def test_lock_pins_every_requirement_of_pyproject_within_its_range(lock_module):
    pins = lock_module.read_lock(LOCK)
    assert "geohub" not in pins
    for requirement in _pyproject_requirements():
        key = lock_module.canonical_name(requirement.name)
        assert key in pins, f"{LOCK.name} does not pin {requirement.name}"
        version = pins[key][1]
        assert requirement.specifier.contains(version, prereleases=True), f"{requirement} excludes locked {version}"
        lower = [spec.version for spec in requirement.specifier if spec.operator in (">=", "==")]
        assert lower == [version], f"pyproject's lower bound of {requirement.name} is not the tested {version}"


@pytest.mark.parametrize("name", ["torch", "gradio"])
def test_space_requirements_pin_the_locked_versions(name, lock_module):
    pins = lock_module.read_lock(LOCK)
    requirements = (REPO / "spaces" / "geohub" / "requirements.txt").read_text(encoding="utf-8")
    assert f"{name}=={pins[name][1]}" in requirements.splitlines()
