"""``python export.py``: a pipeline directory -> ONNX graphs + manifest + golden fixtures, a cached build.

The export is a build output of the weights, never committed. Its manifest records a build stamp
(``manifest["build"]``): the sha256 of every weight and config file of the pipeline, of every source
file of the ``cats`` package the export ran, and of the settings (variants, torch/onnx versions).
A run whose stamp matches the one in OUT_DIR, with every graph file still matching its recorded
sha256, rebuilds nothing and says so in one line; ``--force`` rebuilds anyway. The graphs' own
bytes are no part of the stamp: another machine may write other bytes for the same weights.

Deciding "up to date" imports no torch: the check runs in about a second.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from cats import paths
from cats.export.precision import PRECISIONS, SERVED
from cats.files import sha256
from cats.onnx.manifest import GOLDEN, MANIFEST, verify_files

STAMPED_PACKAGES = ("torch", "onnx", "onnxscript", "onnxruntime")  # the exporter, the graph format, the parity check
NOT_INPUTS = ("training.json",)  # files beside the weights the export never reads (also metrics_*)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="export.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="PIPELINE_DIR|synthcats",
                   help="a directory written by CatsPipeline.save_pretrained, or a bundled name (synthcats)")
    p.add_argument("--out", required=True, type=Path, metavar="OUT_DIR", help="where the graphs and manifest go")
    p.add_argument("--precision", default=",".join(SERVED),
                   help=f"comma-separated variants from {','.join(PRECISIONS)} (default {','.join(SERVED)}; "
                        "fp32 is always written)")
    p.add_argument("--force", action="store_true", help="rebuild even when OUT_DIR is up to date with the weights")
    p.add_argument("--check", action="store_true",
                   help="do not export: re-verify OUT_DIR (sha256, parity with the model, golden fixtures); "
                        "exit status 1 on any mismatch")
    args = p.parse_args(argv)
    chosen = [s.strip() for s in args.precision.split(",") if s.strip()]
    bad = [s for s in chosen if s not in PRECISIONS]
    if bad or not chosen:
        p.error(f"--precision: unknown {bad or chosen!r}; choose from {', '.join(PRECISIONS)}")
    args.precision = list(dict.fromkeys(["fp32", *chosen]))  # the order export_pipeline writes them in
    return args


def local_pipeline(model: str) -> Path | None:
    """The directory ``CatsPipeline.from_pretrained(model)`` loads, when it is on disk (None for a Hub repo)."""
    path = Path(model)
    if (path / "model_index.json").is_file():
        return path.resolve()
    if "/" not in model and model in paths.bundled_names():
        return paths.bundled_pipeline(model)
    return None


def weight_files(model_dir: Path) -> dict[str, str]:
    """{path relative to the pipeline: sha256} of every file the export reads (weights and JSON configs)."""
    files = {}
    for path in sorted(model_dir.rglob("*")):
        if (path.is_file() and path.suffix in (".safetensors", ".json") and path.name not in NOT_INPUTS
                and not path.name.startswith("metrics_")):
            files[path.relative_to(model_dir).as_posix()] = sha256(path)
    return files


def loaded_sources() -> list[str]:
    """Source files of the ``cats`` package loaded in this process (after an export: the ones it ran)."""
    root = paths.ROOT
    found = {Path(m.__file__).resolve() for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
    return sorted(p.relative_to(root).as_posix() for p in found
                  if p.is_relative_to(paths.PACKAGE_DIR) and p.suffix == ".py")


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in STAMPED_PACKAGES:
        try:
            out[name] = version(name).split("+")[0]  # 2.14.1+cpu and 2.14.1+cu130 write the same graphs
        except PackageNotFoundError:
            out[name] = None
    return out


def build_block(model_dir: Path, precisions, sources: list[str]) -> dict:
    """The manifest's "build" block: the stamp and what it hashes (paths relative to the checkout)."""
    block = {"weights": weight_files(model_dir),
             "sources": {rel: sha256(paths.ROOT / rel) for rel in sources if (paths.ROOT / rel).is_file()},
             "settings": {"precisions": list(precisions), "packages": package_versions()}}
    text = json.dumps(block, sort_keys=True, separators=(",", ":"))
    return {"stamp": hashlib.sha256(text.encode()).hexdigest(), **block}


def why_stale(model_dir: Path, out_dir: Path, precisions) -> str | None:
    """None when OUT_DIR is a complete export of these weights by this exporter, else the reason in words."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except FileNotFoundError:
        return "no export there yet"
    except (OSError, json.JSONDecodeError) as exc:
        return f"its {MANIFEST} cannot be read ({exc})"
    recorded = manifest.get("build")
    if not isinstance(recorded, dict) or "stamp" not in recorded:
        return "its manifest has no build stamp"
    now = build_block(model_dir, precisions, list(recorded.get("sources", {})))
    if now["stamp"] != recorded["stamp"]:
        changed = [what for what in ("weights", "sources", "settings") if now[what] != recorded.get(what)]
        return "changed since the last build: " + ", ".join(changed or ["the stamp"])
    problems = verify_files(out_dir, manifest)
    if not (out_dir / GOLDEN).is_file():
        problems.append(f"{GOLDEN} is missing")
    return f"{problems[0]}" if problems else None


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(paths.ROOT)) if path.is_relative_to(paths.ROOT) else str(path)


def main(argv=None) -> int:
    args = parse_args(argv)
    model_dir = local_pipeline(args.model)
    if not args.check and not args.force and model_dir is not None:
        reason = why_stale(model_dir, args.out, args.precision)
        if reason is None:
            print(f"{_shown(args.out)}: up to date with {_shown(model_dir)}, reused (python export.py ... --force "
                  "rebuilds)")
            return 0
        print(f"building the ONNX export of {_shown(model_dir)} into {_shown(args.out)} ({reason}); "
              "about 1-2 minutes on 2 CPU cores", flush=True)

    from cats.export.exporter import check_export, export_pipeline  # imported here: torch only when there is work
    from cats.export.manifest import write_manifest  # imported here: torch only when there is work
    from cats.pipeline import CatsPipeline  # imported here: torch only when there is work

    pipe = CatsPipeline.from_pretrained(args.model)
    if pipe.vae is not None:
        print(f"error: {args.model} is a latent generator (it has a vae); the exported graphs and the clients draw "
              "pixels, so it cannot be exported yet (docs/latent.md)", file=sys.stderr)
        return 2
    if args.check:
        problems = check_export(pipe, args.out)
        for problem in problems:
            print(f"MISMATCH: {problem}", file=sys.stderr)
        print(f"check {args.out}: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
        return 1 if problems else 0
    (args.out / MANIFEST).unlink(missing_ok=True)  # an interrupted build leaves no stamp that claims it finished
    manifest = export_pipeline(pipe, args.out, args.precision, name=Path(str(args.model)).name)
    if model_dir is not None:  # the stamp hashes the sources the export actually ran
        manifest["build"] = build_block(model_dir, args.precision, loaded_sources())
        write_manifest(manifest, args.out)
    return 0
