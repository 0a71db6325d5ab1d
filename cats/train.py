"""``python -m cats.train {generator,classifier} ...``: the training CLI (``--help`` lists every flag).

The work is in ``cats.training``; ``main(argv, on_checkpoint=None)`` is also callable from Python.
"""

from __future__ import annotations

import sys

from cats.training.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    from cats.training.checkpoint import CheckpointMismatchError
    from cats.training.loop import NonFiniteLossError

    try:
        main()
    except (ValueError, FileExistsError, FileNotFoundError, CheckpointMismatchError, NonFiniteLossError) as exc:
        sys.exit(f"error: {exc}")
