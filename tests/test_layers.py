"""The package's floors (docs/ARCHITECTURE.md, "Layers"): no package imports one above it, and no
module of a package imports itself back through the package's other modules.

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


def _module_edges() -> list[tuple[str, str, str, int]]:
    """(importer module, imported module, file, line) for every import of another cats module."""
    edges = []
    for module, path in MODULES.items():
        for name, line in _imported(ast.parse(path.read_text(), str(path))):
            target = name
            while target not in MODULES:  # `import cats.ood.score` or a name inside a module
                target = target.rpartition(".")[0]
            if target != module:
                edges.append((module, target, str(path.relative_to(PACKAGE.parent)), line))
    return edges


MODULE_EDGES = _module_edges()
# (importer unit, imported unit, file, line) for every import that crosses units
EDGES = [(_unit(src), _unit(dst), path, line) for src, dst, path, line in MODULE_EDGES if _unit(src) != _unit(dst)]


def _cycle(imports: dict[str, set[str]]) -> list[str] | None:
    """One import loop of ``imports`` (module -> the modules it imports) as [a, b, ..., a], or None."""
    done, path = set(), []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(imports.get(module, ())):
            found = visit(target)
            if found:
                return found
        path.pop()
        done.add(module)
        return None

    return next(filter(None, map(visit, sorted(imports))), None)


def test_every_package_has_a_floor():
    units = {_unit(m) for m in MODULES if m != "cats.weights"}
    assert units - set(FLOOR) == set(), "add the new package to FLOORS here and in docs/ARCHITECTURE.md"


def test_no_package_imports_its_own_floor_or_one_above():
    bad = [f"{path}:{line}: {src or 'cats'} (floor {FLOOR[src]}) imports {dst or 'cats'} (floor {FLOOR[dst]})"
           for src, dst, path, line in EDGES if FLOOR[dst] >= FLOOR[src]]
    assert bad == []


def test_no_import_loop_inside_a_package():
    # deferred imports count: a loop hidden inside a function is still a loop
    within = {}
    for src, dst, _, _ in MODULE_EDGES:
        if _unit(src) == _unit(dst):
            within.setdefault(src, set()).add(dst)
    assert _cycle(within) is None, "move what both modules need to the one that owns it"


def test_the_loop_finder_sees_a_loop_through_three_modules():
    loop = {"cats.a.x": {"cats.a.y"}, "cats.a.y": {"cats.a.z"}, "cats.a.z": {"cats.a.x"}, "cats.a.w": {"cats.a.x"}}
    assert _cycle(loop) == ["cats.a.x", "cats.a.y", "cats.a.z", "cats.a.x"]
    assert _cycle({**loop, "cats.a.z": set()}) is None


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
