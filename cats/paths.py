"""Where the bundled artifacts live: the one module that spells their paths (torch-free, stdlib only).

    cats/weights/<name>/        bundled CatsPipeline directories (``CatsPipeline.from_pretrained("synthcats")``)
    webclient/public/models/    the bundled weights' ONNX export: what the web client serves and the
                                Gradio demo's ONNX backend loads; built by ``python export.py --model synthcats
                                --out webclient/public/models``, ignored by git (a build output)
    docs/                       measured outputs kept in the repository (screenshots, benchmark table)
    export.py                   the export CLI, which job runners call as a script

``ROOT`` is the directory that holds ``cats/``: the checkout, ``/root`` in the Modal image, the Space's
root on a Hugging Face Space. Only ``WEIGHTS_DIR`` ships inside the package; the others exist in a
checkout (a Space has ``SPACE_EXPORT`` instead of the web client), so callers check before use.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent  # cats/
ROOT = PACKAGE_DIR.parent

WEIGHTS_DIR = PACKAGE_DIR / "weights"
BUNDLED_NAME = "synthcats"  # the pipeline the demo, the web client and the benchmarks use by default

WEB_DIR = ROOT / "webclient"
WEB_MODELS = WEB_DIR / "public" / "models"
SPACE_EXPORT = "onnx"  # on a Space the export sits in ROOT/onnx (.github/scripts/sync_space.py sends it there)

DOCS_DIR = ROOT / "docs"
SCREENSHOTS_DIR = DOCS_DIR / "screenshots"
EXPORT_SCRIPT = ROOT / "export.py"
DEMO_APP = ROOT / "spaces_demo" / "app.py"


def bundled_pipeline(name: str = BUNDLED_NAME) -> Path:
    """The directory of a bundled pipeline, ``cats/weights/<name>`` (it may not exist)."""
    return WEIGHTS_DIR / name


def bundled_names() -> list[str]:
    """Names of the pipelines shipped inside the package (directories of ``cats/weights/`` with a model_index.json)."""
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.name for p in WEIGHTS_DIR.iterdir() if (p / "model_index.json").is_file())
