"""The TypeScript suite's fixtures (webclient/tests/fixtures/*.json) equal what the Python code gives now.

Each is rebuilt in memory by make_fixtures.py and compared with the committed file: the structure
exactly (keys, lengths, strings, integers, booleans, nulls), numbers within the fixture's tolerance.
A stale fixture fails with the command that rewrites it, so a change to the schedule, the
preprocessing, the classifier rules, the noise or the sampling core cannot leave the TypeScript
mirror tested against old values.
"""

import importlib.util
import json
import math
from pathlib import Path

import pytest

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "webclient" / "tests" / "fixtures"
REGENERATE = "PYTHONPATH=. python webclient/tests/fixtures/make_fixtures.py"
# absolute tolerance on floats: 0 where the TypeScript test compares bits (schedule, noise, sampling)
TOLERANCE = {"schedule.json": 0.0, "noise.json": 0.0, "sampling.json": 0.0, "preprocess.json": 1e-6,
             "classify.json": 1e-9, "photo.json": 0.0, "share.json": 0.0}


def _make_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES_DIR / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def differences(got, want, tol: float, path: str = "$") -> list[str]:
    """Where two JSON values differ: structure exactly, floats within ``tol`` (an int stays an int)."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return [f"{path}: keys {sorted(got) if isinstance(got, dict) else type(got).__name__} != {sorted(want)}"]
        return [d for k in want for d in differences(got[k], want[k], tol, f"{path}.{k}")]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: length {len(got) if isinstance(got, list) else type(got).__name__} != {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, tol, f"{path}[{i}]")]
    if isinstance(want, float) and isinstance(got, float):
        same = got == want or (math.isnan(got) and math.isnan(want)) or abs(got - want) <= tol
        return [] if same else [f"{path}: {got!r} != {want!r}"]
    if type(got) is not type(want) or got != want:
        return [f"{path}: {got!r} != {want!r}"]
    return []


def test_the_comparison_catches_what_a_stale_fixture_would_have():
    want = {"a": [1.0, 2.0], "b": "x", "c": 3, "d": None}
    assert differences(json.loads(json.dumps(want)), want, 0.0) == []
    assert differences({"a": [1.0, 2.0 + 1e-9], "b": "x", "c": 3, "d": None}, want, 0.0) == ["$.a[1]: 2.000000001 != 2.0"]
    assert differences({"a": [1.0, 2.0 + 1e-9], "b": "x", "c": 3, "d": None}, want, 1e-6) == []
    assert differences({"a": [1.0], "b": "x", "c": 3, "d": None}, want, 1.0) == ["$.a: length 1 != 2"]
    assert differences({"a": [1.0, 2.0], "b": "x", "c": 3.0, "d": None}, want, 1.0) == ["$.c: 3.0 != 3"]
    assert differences({"a": [1.0, 2.0], "b": "y", "c": 3}, want, 1.0) == ["$: keys ['a', 'b', 'c'] != ['a', 'b', 'c', 'd']"]


def test_every_fixture_has_a_tolerance_and_a_committed_file():
    assert set(_make_fixtures().FIXTURES) == set(TOLERANCE)
    assert {p.name for p in FIXTURES_DIR.glob("*.json")} == set(TOLERANCE)  # no fixture left without a maker


@pytest.mark.parametrize("name", sorted(TOLERANCE))
def test_committed_fixture_equals_what_python_gives_now(name):
    fresh = json.loads(json.dumps(_make_fixtures().FIXTURES[name]()))  # through JSON, as the file was written
    committed = json.loads((FIXTURES_DIR / name).read_text())
    found = differences(fresh, committed, TOLERANCE[name])
    assert not found, (f"webclient/tests/fixtures/{name} is stale ({len(found)} differences, first: "
                       f"{'; '.join(found[:3])}); regenerate it with `{REGENERATE} {name}` and commit it")
