"""Build the ONNX export of a pipeline (graphs, manifest, golden fixtures), or re-check one.

    python export.py --model PIPELINE_DIR|synthcats --out OUT_DIR [--precision fp32,fp16[,int8]] [--force] [--check]

A cached build: an export whose manifest stamp matches the weights, the exporter and its settings is
reused, not rebuilt (docs/export.md). The work is in ``cats.export``; this file only runs its CLI.
"""

import sys

from cats.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
