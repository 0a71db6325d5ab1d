"""The ONNX Runtime side of tiny-cats: no torch import anywhere in this package.

``OnnxCatsPipeline.from_dir(EXPORT_DIR, variant="fp32"|"fp16"|"int8", threads=None)`` offers the
CatsPipeline calls (generate, blend, transfer, classify) from an export written by ``export.py``.
"""

from cats.onnx.pipeline import OnnxCatsPipeline, OnnxPipelineOutput

__all__ = ["OnnxCatsPipeline", "OnnxPipelineOutput"]
