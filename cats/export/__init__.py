"""ONNX export of a CatsPipeline: step and classifier graphs, precision variants, manifest, golden fixtures.

CLI: ``python export.py --model PIPELINE_DIR|synthcats --out OUT_DIR [--precision fp32,fp16[,int8]] [--force] [--check]``
(a cached build: docs/export.md). Python: ``export_pipeline(pipe, out_dir)`` and ``check_export(pipe, out_dir)``.
The runtime side that reads an export (no torch) is ``cats.onnx``.
"""

__all__ = ["check_export", "export_pipeline"]


def __getattr__(name: str):
    if name in __all__:
        from cats.export import exporter  # imported here: python export.py decides "up to date" without torch

        return getattr(exporter, name)
    raise AttributeError(f"module 'cats.export' has no attribute {name!r}")
