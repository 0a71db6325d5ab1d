"""``python -m cats.training {generator,classifier} ...``: the training CLI (``--help`` lists every flag).

Also the ``tiny-cats-train`` command, and what ``accelerate launch -m cats.training ...`` runs. The
work is in ``cats.training.cli``, whose ``main(argv, on_checkpoint=None)`` is the one to call from
Python (it returns the run's result); this entry point turns the errors a user can fix into one
line and a non-zero exit.
"""

from __future__ import annotations

import sys

from cats.training.checkpoint import CheckpointMismatchError
from cats.training.cli import main as run
from cats.training.loop import NonFiniteLossError


def main(argv: list[str] | None = None) -> None:
    """Train as the command line says; the run's result is in RUN_DIR, not returned."""
    try:
        run(argv)
    except (ValueError, FileExistsError, FileNotFoundError, CheckpointMismatchError, NonFiniteLossError) as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
