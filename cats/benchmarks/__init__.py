"""Benchmarks: each module prints figures and returns them; ``python -m cats.benchmarks`` runs them all.

``report.py`` runs every part in one process and prints the benchmark table (the README's table
and docs/benchmarks.md are pasted from it). Every other module here exposes
``run(quick: bool = False) -> dict`` and runs standalone with ``python -m cats.benchmarks.<name>
[--quick]``. Speed targets are checked here, never by timed assertions in tests; tests only
exercise ``--quick``.
"""
