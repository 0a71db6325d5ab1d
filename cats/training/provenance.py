"""Where a trained model's data came from: ``RUN_DIR/data.json`` and the pipeline's ``trained_on``.

The data layer describes each split it returns (``ArrayDataset.provenance``: the source, its
revision for a Hub dataset, the columns read, the image count); the trainer keeps that with the
weights, so a pipeline trained on ``hf:OWNER/NAME`` says which commit of the dataset it saw.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def describe(provenance: dict) -> str:
    """One line for people: 'hf:timm/oxford-iiit-pet@<commit> (train split, 3312 images)'."""
    source = provenance.get("source") or "unknown source"
    revision = provenance.get("revision")
    where = f"{source}@{revision}" if revision else source
    return f"{where} ({provenance.get('split', '?')} split, {provenance.get('images', '?')} images)"


def record(run_dir: Path, splits: dict[str, dict]) -> dict:
    """Write ``RUN_DIR/data.json`` ({split: provenance}) and fill an unset ``trained_on`` of ``RUN_DIR/pipeline``.

    The pipeline's ``model_index.json`` is edited in place (a temporary file, then a rename) rather
    than re-saved, so the weights written by ``save_pretrained`` are not touched.
    """
    run_dir = Path(run_dir)
    info = {name: dict(p) for name, p in splits.items() if p}
    _write_json(run_dir / "data.json", info)
    index = run_dir / "pipeline" / "model_index.json"
    if "train" in info and index.is_file():
        config = json.loads(index.read_text())
        if not config.get("trained_on"):
            config["trained_on"] = describe(info["train"])
            _write_json(index, config)
    return info


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
