"""Where the demo's weights come from: bundled, a local directory, or a Hugging Face Hub repo.

Light on purpose (no torch, no gradio): ``python spaces_demo/app.py --model /typo`` fails with a
clear message in a fraction of a second instead of after the heavy imports.

Resolution order for the PyTorch pipeline: ``--model`` flag, else the ``TINY_CATS_MODEL``
environment variable (how a Space names its Hub repo), else the bundled SynthCats weights
(``cats/weights/synthcats``, no download). The ONNX export: ``--onnx`` flag, else
``TINY_CATS_ONNX``, else an ``onnx/`` folder inside the model directory, else — only with the
bundled weights — the export the web client ships (``webclient/public/models``, or ``onnx/`` beside
``app.py`` on a Space).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cats import paths  # light: the package root and cats.paths import nothing heavy

HERE = Path(__file__).resolve().parent
BUNDLED_NAME = paths.BUNDLED_NAME
# The bundled weights' export: the web client's copy in the repository, or onnx/ beside app.py on a Space.
BUNDLED_ONNX = (paths.WEB_MODELS, HERE / paths.SPACE_EXPORT)
ENV_MODEL = "TINY_CATS_MODEL"
ENV_ONNX = "TINY_CATS_ONNX"
_HUB_REPO = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


class SourceError(Exception):
    """The weights the user asked for cannot be found; the message says what to do."""


@dataclass(frozen=True)
class Sources:
    """Resolved weight locations and the human description shown in the UI."""

    model_dir: Path  # a CatsPipeline directory (model_index.json)
    model_label: str  # e.g. "bundled SynthCats demo weights (cats/weights/synthcats)"
    onnx_dir: Path | None  # an export directory (manifest.json), or None: no ONNX backend
    onnx_note: str  # why the ONNX backend is or is not available


def bundled_model_dir(name: str = BUNDLED_NAME) -> Path:
    """The directory ``CatsPipeline.from_pretrained(name)`` loads (``cats/weights/<name>``)."""
    return paths.bundled_pipeline(name)


def _is_pipeline_dir(path: Path) -> bool:
    return (path / "model_index.json").is_file()


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download  # imported here: only weights named by a Hub repo need it

    try:
        return Path(snapshot_download(repo_id))
    except Exception as exc:  # network, auth, missing repo: all end the start-up with the reason
        raise SourceError(f"could not download the Hub repo {repo_id!r}: {exc}") from exc


def resolve_model(model: str | None, env: dict | None = None) -> tuple[Path, str]:
    """-> (pipeline directory, description). Raises SourceError with a fix when nothing is there."""
    env = os.environ if env is None else env
    if model is None and env.get(ENV_MODEL):
        model = env[ENV_MODEL]
    if model is None or model == BUNDLED_NAME:
        path = bundled_model_dir()
        if not _is_pipeline_dir(path):
            raise SourceError(
                f"the bundled SynthCats weights are missing: no model_index.json in {path}. "
                "Train or fetch them (see README), or pass --model PIPELINE_DIR or --model OWNER/REPO.")
        return path, f"bundled SynthCats demo weights (`{_shown(path)}`)"
    path = Path(model).expanduser()
    if path.exists():
        if not _is_pipeline_dir(path):
            raise SourceError(f"--model {model!r} is not a pipeline directory (no model_index.json); "
                              "pass a directory written by CatsPipeline.save_pretrained or by training")
        return path.resolve(), f"local weights `{path.resolve()}`"
    if _HUB_REPO.match(model):
        local = _download(model)
        if not _is_pipeline_dir(local):
            raise SourceError(f"the Hub repo {model!r} has no model_index.json at its root")
        return local, f"Hub repo [{model}](https://huggingface.co/{model})"
    raise SourceError(f"--model {model!r}: no such directory, and not a Hub repo id (OWNER/NAME); "
                      f"leave it out to use the bundled {BUNDLED_NAME!r} weights")


def _shown(path: Path) -> str:
    """A bundled path as the user sees it: relative to the checkout (or the Space's root)."""
    return str(path.relative_to(paths.ROOT)) if path.is_relative_to(paths.ROOT) else str(path)


def _check_export(path: Path, flag: str) -> Path:
    if not (path / "manifest.json").is_file():
        raise SourceError(f"{flag} {str(path)!r} is not an ONNX export (no manifest.json); "
                          "write one with: python export.py --model PIPELINE_DIR --out DIR")
    return path.resolve()


def resolve_onnx(onnx: str | None, model_dir: Path, bundled: bool, env: dict | None = None) -> tuple[Path | None, str]:
    """-> (export directory or None, note). An explicit --onnx that is wrong is an error."""
    env = os.environ if env is None else env
    if onnx is not None:
        return _check_export(Path(onnx).expanduser(), "--onnx"), f"`{Path(onnx).resolve()}`"
    if env.get(ENV_ONNX):
        return _check_export(Path(env[ENV_ONNX]).expanduser(), ENV_ONNX), f"`{env[ENV_ONNX]}`"
    if (model_dir / "onnx" / "manifest.json").is_file():
        return (model_dir / "onnx").resolve(), "the `onnx/` folder beside the weights"
    if bundled:
        for path in BUNDLED_ONNX:
            if (path / "manifest.json").is_file():
                return path, f"the bundled export (`{_shown(path)}`)"
        web = _shown(paths.WEB_MODELS)
        return None, (f"the ONNX engine (the one the web client runs) is not built yet; "
                      f"`python export.py --model {BUNDLED_NAME} --out {web}` builds it. The PyTorch engine "
                      "works meanwhile.")
    return None, ("the ONNX engine is off for these weights: build it with "
                  "`python export.py --model PIPELINE_DIR --out DIR` and pass --onnx DIR")


def resolve_sources(model: str | None, onnx: str | None, env: dict | None = None) -> Sources:
    """Resolve both the PyTorch pipeline and the ONNX export (see the module docstring for the order)."""
    env = os.environ if env is None else env
    model_dir, label = resolve_model(model, env)
    bundled = model_dir == bundled_model_dir()
    onnx_dir, note = resolve_onnx(onnx, model_dir, bundled, env)
    return Sources(model_dir=model_dir, model_label=label, onnx_dir=onnx_dir, onnx_note=note)


def read_manifest(onnx_dir: Path) -> dict:
    """The export's manifest.json (schema in docs/ARCHITECTURE.md)."""
    try:
        return json.loads((onnx_dir / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SourceError(f"cannot read {onnx_dir / 'manifest.json'}: {exc}") from exc
