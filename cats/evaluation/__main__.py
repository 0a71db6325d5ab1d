"""``python -m cats.evaluation {generator,classifier} ...`` (also the ``tiny-cats-evaluate`` command).

The parser and the subcommands are in ``cats.evaluation.cli``; this entry point turns the errors a
user can fix (a missing model or split, a bad data source) into one line and a non-zero exit.
"""

from __future__ import annotations

import sys

from cats.evaluation.cli import main as run


def main(argv: list[str] | None = None) -> None:
    """Evaluate as the command line says; the metrics are printed and written, not returned."""
    try:
        run(argv)
    except (ValueError, FileNotFoundError) as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
