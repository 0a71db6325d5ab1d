"""``python export.py``: a pipeline directory -> ONNX graphs + manifest + golden fixtures, or --check one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cats.export.precision import PRECISIONS


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="export.py", description=__doc__)
    p.add_argument("--model", required=True, metavar="PIPELINE_DIR|synthcats",
                   help="a directory written by CatsPipeline.save_pretrained, or a bundled name (synthcats)")
    p.add_argument("--out", required=True, type=Path, metavar="OUT_DIR", help="where the graphs and manifest go")
    p.add_argument("--precision", default="fp32,fp16,int8",
                   help=f"comma-separated variants from {','.join(PRECISIONS)} (fp32 is always written)")
    p.add_argument("--check", action="store_true",
                   help="do not export: re-verify OUT_DIR (sha256, parity with the model, golden fixtures); "
                        "exit status 1 on any mismatch")
    args = p.parse_args(argv)
    args.precision = [s.strip() for s in args.precision.split(",") if s.strip()]
    bad = [s for s in args.precision if s not in PRECISIONS]
    if bad or not args.precision:
        p.error(f"--precision: unknown {bad or args.precision!r}; choose from {', '.join(PRECISIONS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from cats.export.exporter import check_export, export_pipeline  # torch is imported only after parsing
    from cats.pipeline import CatsPipeline

    pipe = CatsPipeline.from_pretrained(args.model)
    if args.check:
        problems = check_export(pipe, args.out)
        for problem in problems:
            print(f"MISMATCH: {problem}", file=sys.stderr)
        print(f"check {args.out}: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
        return 1 if problems else 0
    export_pipeline(pipe, args.out, args.precision, name=Path(str(args.model)).name)
    return 0
