"""ONNX export of a CatsPipeline: step and classifier graphs, precision variants, manifest, golden fixtures.

CLI: ``python export.py --model PIPELINE_DIR|synthcats --out OUT_DIR [--precision fp32,fp16] [--force] [--check]``
(a cached build: docs/export.md). Python: ``export_pipeline(pipe, out_dir)`` and ``check_export(pipe, out_dir)``.
The runtime side that reads an export (no torch) is ``cats.onnx``.
"""

__all__ = ["check_export", "export_pipeline"]


def __getattr__(name: str):
    # Lazy, so that `python export.py` can decide "up to date" without importing torch.
    if name in __all__:
        from cats.export import exporter

        return getattr(exporter, name)
    raise AttributeError(f"module 'cats.export' has no attribute {name!r}")
