"""File checksums (torch-free): checkpoints, the export manifest and the dataset download use them."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: str | Path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256(path: str | Path) -> str:
    return file_digest(path, "sha256")


def md5sum(path: str | Path) -> str:
    return file_digest(path, "md5")
