"""``python -m cats.benchmarks [--quick] [--no-browser] [--out docs/benchmarks.md]`` (also ``tiny-cats-bench``).

Runs every benchmark and prints the one table (``cats.benchmarks.report``); the figures are printed
and, with ``--out``, written as Markdown and JSON, not returned.
"""

from __future__ import annotations

from cats.benchmarks.report import main as run


def main(argv: list[str] | None = None) -> None:
    run(argv)


if __name__ == "__main__":
    main()
