"""pyproject.toml: the console scripts run, the declared dependencies are the pinned ones, the weights ship."""

import importlib
import inspect
import re
import tomllib

import pytest
from packaging.requirements import Requirement

from cats.paths import PACKAGE_DIR, ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
SCRIPTS = PROJECT["scripts"]


def _target(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()  # PEP 503 normalisation


def _pins(path) -> dict[str, str]:
    """name -> pinned version of a requirements file (``-r`` includes and comments skipped)."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, sep, version = line.partition("==")
            assert sep, f"{path.name}: {line!r} is not pinned with =="
            pins[_name(name)] = version.strip()
    return pins


def _declared(requirements: list[str]) -> dict[str, Requirement]:
    reqs = (Requirement(r) for r in requirements)
    return {_name(r.name): r for r in reqs if _name(r.name) != _name(PROJECT["name"])}  # not tiny-cats[...] itself


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_console_script_target_imports_and_answers_help(script, capsys):
    target = _target(SCRIPTS[script])
    assert callable(target)
    # The installed wrapper runs sys.exit(target()): a target that returns its metrics dict would exit 1
    # after a successful run, so each must return None or an exit status.
    assert inspect.signature(target).return_annotation in ("None", "int", None, int), SCRIPTS[script]
    with pytest.raises(SystemExit) as exit_info:
        target(["--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: ")


def test_declared_dependencies_are_the_pinned_requirements():
    runtime = _declared(PROJECT["dependencies"])
    extras = {extra: _declared(reqs) for extra, reqs in PROJECT["optional-dependencies"].items()}
    installed_by_readme = {**runtime, **extras["demo"], **extras["modal"]}
    pins = _pins(ROOT / "requirements.txt")
    assert set(installed_by_readme) == set(pins), "requirements.txt and pyproject.toml name different packages"
    dev_pins = _pins(ROOT / "requirements-dev.txt")
    assert set(extras["dev"]) == set(dev_pins), "requirements-dev.txt and the dev extra name different packages"
    assert "tiny-cats[demo,modal]" in PROJECT["optional-dependencies"]["dev"]  # dev installs what the tests import
    for name, version in {**pins, **dev_pins}.items():
        req = installed_by_readme.get(name) or extras["dev"][name]
        assert req.specifier.contains(version, prereleases=True), f"{name}=={version} is outside {req}"


def test_bundled_weights_are_package_data():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["cats"]
    shipped = {path for pattern in patterns for path in PACKAGE_DIR.glob(pattern) if path.is_file()}
    files = {path for path in (PACKAGE_DIR / "weights").rglob("*") if path.is_file()}
    assert files and files <= shipped, sorted(str(p.relative_to(PACKAGE_DIR)) for p in files - shipped)
