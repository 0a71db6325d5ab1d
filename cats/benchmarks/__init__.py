"""Benchmarks: each module prints figures and returns them; ``python -m cats.bench`` runs them all.

Every module here exposes ``run(quick: bool = False) -> dict`` and runs standalone with
``python -m cats.benchmarks.<name> [--quick]``. Speed targets are checked here, never by timed
assertions in tests; tests only exercise ``--quick``.
"""
