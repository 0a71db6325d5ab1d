"""Reading an export: the manifest, graph files checked against their sha256, golden arrays.

NumPy only (no torch, no onnxruntime), so the export side and every client share it.
Arrays in ``golden.json`` are stored exactly (``cats.arrays``: a JavaScript client decodes them into
a Float32Array).
"""

from __future__ import annotations

import json
from pathlib import Path

from cats.arrays import decode_array, encode_array  # noqa: F401 - part of this module's interface (golden arrays)
from cats.files import sha256  # noqa: F401 - part of this module's interface (manifest hashes)

FORMAT = "tiny-cats-onnx"
VERSION = 1
MANIFEST = "manifest.json"
GOLDEN = "golden.json"
GRAPHS = ("generator", "classifier", "generator_fast")  # generator_fast: only with a few-step student


def read_manifest(out_dir: str | Path) -> dict:
    """Load ``OUT_DIR/manifest.json`` and check it is a manifest this code understands."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no {MANIFEST} in {str(out_dir)!r}: export one with "
                                f"`python export.py --model PIPELINE_DIR --out {out_dir}`")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"{path} is not a {FORMAT} v{VERSION} manifest "
                         f"(format {manifest.get('format')!r}, version {manifest.get('version')!r})")
    return manifest


def variant_path(out_dir: str | Path, manifest: dict, graph: str, variant: str | None = None) -> Path:
    """Path of a graph's variant file (default: the graph's default_variant). Raises naming the written ones."""
    if graph not in GRAPHS:
        raise ValueError(f"unknown graph {graph!r}: choose one of {', '.join(GRAPHS)}")
    entry = manifest.get(graph)
    if not entry:
        raise ValueError(f"this export has no {graph} graph")
    variant = variant or entry["default_variant"]
    if variant not in entry["variants"]:
        raise ValueError(f"{graph} variant {variant!r} was not exported: available "
                         f"{', '.join(entry['variants'])}" + _rejected_note(entry, variant))
    return Path(out_dir) / entry["variants"][variant]["file"]


def _rejected_note(entry: dict, variant: str) -> str:
    reason = entry.get("rejected_variants", {}).get(variant, {}).get("reason")
    return f" ({variant} was not written: {reason})" if reason else ""


def verify_files(out_dir: str | Path, manifest: dict) -> list[str]:
    """Every graph file listed in the manifest exists with the recorded size and sha256; returns problems."""
    problems = []
    for graph in GRAPHS:
        entry = manifest.get(graph) or {}
        for name, variant in entry.get("variants", {}).items():
            path = Path(out_dir) / variant["file"]
            if not path.is_file():
                problems.append(f"{graph} {name}: {path.name} is missing")
                continue
            if path.stat().st_size != variant["bytes"]:
                problems.append(f"{graph} {name}: {path.name} has {path.stat().st_size} bytes, manifest says "
                                f"{variant['bytes']}")
            digest = sha256(path)
            if digest != variant["sha256"]:
                problems.append(f"{graph} {name}: {path.name} sha256 {digest[:12]}... differs from the manifest's "
                                f"{variant['sha256'][:12]}...")
    return problems


def read_golden(out_dir: str | Path, manifest: dict) -> dict:
    path = Path(out_dir) / manifest.get("golden", GOLDEN)
    if not path.is_file():
        raise FileNotFoundError(f"no golden fixtures at {path}")
    return json.loads(path.read_text())
