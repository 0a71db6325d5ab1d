"""ONNX export of a CatsPipeline: step and classifier graphs, precision variants, manifest, golden fixtures.

CLI: ``python export.py --model PIPELINE_DIR|synthcats --out OUT_DIR [--precision fp32,fp16,int8] [--check]``.
Python: ``export_pipeline(pipe, out_dir)`` and ``check_export(pipe, out_dir)``. The runtime side that
reads an export (no torch) is ``cats.onnx``.
"""

from cats.export.exporter import check_export, export_pipeline

__all__ = ["check_export", "export_pipeline"]
