"""The package's floors (docs/ARCHITECTURE.md, "Layers"): no package imports one above it.

Read from the source, not from what happens to be imported: every ``import`` and ``from ... import``
counts, at the top of a file or deferred inside a function, and so does a dynamic import by name
(a string that names a ``cats`` module, as ``importlib.import_module`` and diffusers' loader take).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cats"

# Bottom-up; a package may import its own modules and the floors below it, never its own floor's others.
FLOORS = (
    ("foundations", ("arrays", "breeds", "convention", "files", "images", "noise", "paths")),
    ("math, data and the familiarity score", ("classify", "data", "flow", "ood", "schedule")),
    ("the sampling core", ("sampling",)),
    ("models", ("models",)),
    ("pipelines", ("onnx", "pipeline")),
    ("training", ("training",)),
    ("evaluation and export", ("evaluation", "export")),
    ("benchmarks and jobs", ("benchmarks", "modal_jobs")),
    ("the front door", ("",)),  # cats/__init__.py: the public classes, loaded on first use
)
FLOOR = {unit: level for level, (_, units) in enumerate(FLOORS) for unit in units}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _unit(module: str) -> str:
    """The floor unit of a cats module: its first name under cats ("" for the package root)."""
    return module.split(".")[1] if "." in module else ""


def _imported(tree: ast.AST) -> list[tuple[str, int]]:
    """(cats module, line) of every import in a file, deferred and dynamic ones included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from cats import paths` imports the submodule; `from cats import CatsPipeline` the root
            found += [(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module,
                       node.lineno) for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value \
                and node.value in MODULES:
            found.append((node.value, node.lineno))
    return [(name, line) for name, line in found if name == "cats" or name.startswith("cats.")]


def _edges() -> list[tuple[str, str, str, int]]:
    """(importer unit, imported unit, file, line) for every import that crosses units."""
    edges = []
    for module, path in MODULES.items():
        for name, line in _imported(ast.parse(path.read_text(), str(path))):
            target = name
            while target not in MODULES:  # `import cats.ood.score` or a name inside a module
                target = target.rpartition(".")[0]
            if _unit(target) != _unit(module):
                edges.append((_unit(module), _unit(target), str(path.relative_to(PACKAGE.parent)), line))
    return edges


EDGES = _edges()


def test_every_package_has_a_floor():
    units = {_unit(m) for m in MODULES if m != "cats.weights"}
    assert units - set(FLOOR) == set(), "add the new package to FLOORS here and in docs/ARCHITECTURE.md"


def test_no_package_imports_its_own_floor_or_one_above():
    bad = [f"{path}:{line}: {src or 'cats'} (floor {FLOOR[src]}) imports {dst or 'cats'} (floor {FLOOR[dst]})"
           for src, dst, path, line in EDGES if FLOOR[dst] >= FLOOR[src]]
    assert bad == []


@pytest.mark.parametrize("example", ['import cats.pipeline\n', 'def f():\n    from cats.pipeline import CatsPipeline\n',
                                     'M = {"CatsPipeline": "cats.pipeline"}\n', 'from cats import pipeline\n'])
def test_the_reader_sees_top_level_deferred_and_dynamic_imports(example):
    assert [name for name, _ in _imported(ast.parse(example))] in (["cats.pipeline"], ["cats.pipeline", "cats.pipeline"])


def test_the_floors_are_the_ones_docs_architecture_states():
    text = (PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text()
    section = text[text.index("## Layers"):]
    for level, (name, units) in enumerate(FLOORS):
        line = next((ln for ln in section.splitlines() if ln.startswith(f"| {level} |")), None)
        assert line is not None, f"docs/ARCHITECTURE.md has no row for floor {level} ({name})"
        for unit in units:
            assert f"`cats/{unit}" in line if unit else "`cats/__init__.py`" in line, (unit, line)
