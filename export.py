"""Export a pipeline to ONNX (graphs, manifest, golden fixtures) or re-check an export.

    python export.py --model PIPELINE_DIR|synthcats --out OUT_DIR [--precision fp32,fp16,int8] [--check]

The work is in ``cats.export``; this file only runs its CLI.
"""

import sys

from cats.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
