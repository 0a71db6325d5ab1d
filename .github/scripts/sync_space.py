"""Push the Gradio demo to a Hugging Face Space in one commit, laid out as spaces_demo/README.md describes.

The Space gets the files of spaces_demo/ at its root, the cats package in cats/ (the bundled weights are
cats/weights/synthcats) and the ONNX export of the bundled weights in onnx/ (the demo's ONNX backend). Of
spaces_demo/ and cats/ only files git tracks are sent, so a local __pycache__ or run directory never reaches
the Space; the export is a build output that git ignores, so it is built first and its manifest lists what is
sent (manifest.json, golden.json and the graph files). Files under cats/ and onnx/ on the Space that this
push does not send are deleted; anything else on the Space is left alone.

    python export.py --model synthcats --out webclient/public/models    # first (reuses an up-to-date export)
    HF_TOKEN=hf_... python .github/scripts/sync_space.py OWNER/NAME
    python .github/scripts/sync_space.py OWNER/NAME --dry-run      # list what would be sent; contacts nothing
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from cats import paths  # noqa: E402  (stdlib only: this job installs nothing but huggingface_hub)

# (folder in this repository, folder on the Space; "" is the Space's root): their tracked files are sent
LAYOUT = (("spaces_demo", ""), ("cats", "cats"))
EXPORT_COMMAND = f"python export.py --model {paths.BUNDLED_NAME} --out {paths.WEB_MODELS.relative_to(ROOT).as_posix()}"
# Space folders that hold only what this script sends, so a file there that the repository dropped is stale.
MIRRORED = ("cats/", f"{paths.SPACE_EXPORT}/")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def space_files() -> dict[str, Path]:
    """Path on the Space -> file in this checkout, for every tracked file under LAYOUT."""
    files: dict[str, Path] = {}
    for src, dst in LAYOUT:
        names = [n for n in git("ls-files", "-z", "--", src).split("\0") if n]
        if not names:
            raise SystemExit(f"git tracks no file under {src}/: run this from a checkout of tiny-cats")
        for name in names:
            path = ROOT / name
            if not path.is_file():
                raise SystemExit(f"{name} is tracked but missing from the checkout")
            rel = name[len(src) + 1 :]
            files[f"{dst}/{rel}" if dst else rel] = path
    for name in export_files(paths.WEB_MODELS):
        files[f"{paths.SPACE_EXPORT}/{name}"] = paths.WEB_MODELS / name
    return files


def export_files(out_dir: Path) -> list[str]:
    """manifest.json, the golden fixtures and every graph file the manifest lists; raises when one is missing."""
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text())
    except FileNotFoundError:
        raise SystemExit(f"no ONNX export in {out_dir}: build it first with `{EXPORT_COMMAND}`") from None
    graphs = [entry for entry in manifest.values() if isinstance(entry, dict) and "variants" in entry]
    names = ["manifest.json", manifest["golden"], *(v["file"] for entry in graphs for v in entry["variants"].values())]
    missing = [name for name in names if not (out_dir / name).is_file()]
    if missing:
        raise SystemExit(f"{out_dir} lacks {', '.join(missing)}: rebuild it with `{EXPORT_COMMAND} --force`")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Push the Gradio demo, the cats package and its weights to a Space.")
    ap.add_argument("space", help="the Space, OWNER/NAME (created as a Gradio Space if it does not exist)")
    ap.add_argument("--dry-run", action="store_true", help="list what would be sent and stop")
    args = ap.parse_args(argv)
    owner, _, name = args.space.partition("/")
    if not owner or not name or "/" in name:
        raise SystemExit(f"the Space must be OWNER/NAME, got {args.space!r}")

    files = space_files()
    if args.dry_run:
        for dst, src in sorted(files.items()):
            print(f"{src.relative_to(ROOT)} -> {dst}")
        print(f"{len(files)} files, {sum(p.stat().st_size for p in files.values()) / 1e6:.1f} MB")
        return 0

    token = os.environ.get("HF_TOKEN", "")
    if not token:
        raise SystemExit("HF_TOKEN is not set: it must hold a Hugging Face token with write access to the Space")
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = HfApi(token=token)
    api.create_repo(args.space, repo_type="space", space_sdk="gradio", exist_ok=True)
    stale = sorted(p for p in api.list_repo_files(args.space, repo_type="space") if p.startswith(MIRRORED) and p not in files)
    operations = [CommitOperationAdd(path_in_repo=dst, path_or_fileobj=str(src)) for dst, src in sorted(files.items())]
    operations += [CommitOperationDelete(path_in_repo=p) for p in stale]
    commit = git("rev-parse", "HEAD").strip()
    info = api.create_commit(
        args.space, operations, repo_type="space", commit_message=f"Sync the tiny-cats demo from {commit[:12]}"
    )
    print(f"sent {len(files)} files, deleted {len(stale)} stale ones: {info.commit_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
