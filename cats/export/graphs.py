"""The torch modules that become ONNX graphs, and the one function that exports them.

Generator step graph (one call = one guided Euler step, CFG inside, so no client can apply
guidance twice or forget it)::

    sample (B,3,H,W), sigma (B,), sigma_next (B,), class_weights (B,13), guidance_scale (1,)
      [, autoguidance_scale (1,)] -> next_sample (B,3,H,W), pred_x0 (B,3,H,W)

``autoguidance_scale`` exists when the pipeline has a guide network: the graph then holds both
networks (the guide runs on the conditional rows, whatever the scale; 1 = classifier-free guidance
only). Built only from ``cats.flow.guided_velocity`` and ``cats.flow.euler_step``, on an export twin of
the transformer (``export_friendly``: the same weights and the same function, two modules written
in the ONNX operators onnxruntime runs fastest). Classifier graph::

    image (B,3,S,S) normalised -> logits (B,13) raw (temperature is applied by the client),
                                  features (B,D) (the pooled stage the familiarity score reads, cats.ood)
"""

from __future__ import annotations

import copy
from pathlib import Path

import onnx
import torch
import torch.nn as nn

from cats.breeds import NUM_CLASSIFIER_OUTPUTS, NUM_SLOTS
from cats.flow import euler_step, guided_velocity
from cats.models.dit import Attention

OPSET = 18  # at opset 17 the exporter wrote a Split node that onnxruntime refuses to load
BATCH = "batch"  # the name of the dynamic batch dimension in every graph
GENERATOR_INPUTS = ("sample", "sigma", "sigma_next", "class_weights", "guidance_scale")
GUIDE_INPUT = "autoguidance_scale"  # the step graph's last input when the pipeline has a guide
GENERATOR_OUTPUTS = ("next_sample", "pred_x0")
CLASSIFIER_INPUTS = ("image",)
CLASSIFIER_OUTPUTS = ("logits", "features")
EXAMPLE_BATCH = 2  # torch.export needs an example batch >= 2 to keep the batch dimension dynamic
NAME_SCOPES = "pkg.torch.onnx.name_scopes"  # node metadata: the torch module a node came from


class ExportAttention(nn.Module):
    """``cats.models.dit.Attention`` (same weights, same function) as plain MatMul + Softmax.

    The exporter's decomposition of ``F.scaled_dot_product_attention`` builds K^T through a chain of
    Shape/Slice/Concat/Reshape nodes in every block; here K is permuted straight to (B, H, Dh, T)
    and the 1/sqrt(Dh) scale sits on Q, which onnxruntime folds into the MatMul.
    """

    def __init__(self, attn: Attention):
        super().__init__()
        self.qkv, self.proj, self.num_heads = attn.qkv, attn.proj, attn.num_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        dh = d // self.num_heads
        qkv = self.qkv(x).reshape(b, t, 3, self.num_heads, dh)  # (B, T, 3, H, Dh)
        q = qkv[:, :, 0].permute(0, 2, 1, 3) * dh ** -0.5  # (B, H, T, Dh)
        k_t = qkv[:, :, 1].permute(0, 2, 3, 1)  # (B, H, Dh, T)
        v = qkv[:, :, 2].permute(0, 2, 1, 3)  # (B, H, T, Dh)
        out = torch.softmax(q @ k_t, dim=-1) @ v  # (B, H, T, Dh)
        return self.proj(out.transpose(1, 2).reshape(b, t, d))  # (B, T, D)


class ExportTanhGelu(nn.Module):
    """``nn.GELU(approximate="tanh")`` written as the pattern onnxruntime fuses into one FastGelu at load.

    At opset 18 the exporter writes GELU as eight elementwise nodes in an order onnxruntime does
    not recognise; with ``torch.pow`` and this order it does (any onnxruntime, the web one included).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.5 * (1.0 + torch.tanh(0.7978845608028654 * (x + 0.044715 * torch.pow(x, 3))))


def export_friendly(transformer: nn.Module) -> nn.Module:
    """A copy of a CatDiT whose attention and tanh-GELU modules are their export twins (same weights).

    The PyTorch model itself keeps ``scaled_dot_product_attention`` and the fused GELU kernel, its
    fastest eager form; the parity checks compare the graphs against it.
    """
    twin = copy.deepcopy(transformer).eval()
    for block in twin.blocks:
        block.attn = ExportAttention(block.attn)
        block.mlp = nn.Sequential(*(ExportTanhGelu() if isinstance(m, nn.GELU) and m.approximate == "tanh" else m
                                    for m in block.mlp))
    return twin


class GeneratorStep(nn.Module):
    """One guided Euler step of a generator (the exported step graph): classifier-free guidance, and
    autoguidance by ``guide`` when there is one (then ``autoguidance_scale`` is an input too)."""

    INPUTS = GENERATOR_INPUTS

    def __init__(self, transformer: nn.Module, guide: nn.Module | None = None):
        super().__init__()
        self.transformer = transformer
        self.guide = guide
        self.prediction_type = transformer.config.prediction_type
        if guide is not None:
            self.INPUTS = (*GENERATOR_INPUTS, GUIDE_INPUT)

    def forward(self, sample: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor,
                class_weights: torch.Tensor, guidance_scale: torch.Tensor,
                autoguidance_scale: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        v, pred_x0 = guided_velocity(self.transformer, sample, sigma, class_weights, guidance_scale,
                                     self.prediction_type, guide=self.guide,
                                     autoguidance_scale=1.0 if autoguidance_scale is None
                                     else autoguidance_scale)  # (B,3,H,W) each
        return euler_step(sample, v, sigma, sigma_next), pred_x0


def generator_example(image_size: int, channels: int = 3, batch: int = EXAMPLE_BATCH) -> tuple[torch.Tensor, ...]:
    """Example inputs for tracing the step graph (values are irrelevant, shapes and dtypes matter)."""
    g = torch.Generator().manual_seed(0)
    return (torch.randn(batch, channels, image_size, image_size, generator=g),
            torch.full((batch,), 0.8), torch.full((batch,), 0.6),
            torch.eye(NUM_SLOTS)[:batch].contiguous(), torch.tensor([3.0]))


def classifier_example(image_size: int, batch: int = EXAMPLE_BATCH) -> tuple[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return (torch.randn(batch, 3, image_size, image_size, generator=g),)


def _name_batch_dims(model: onnx.ModelProto) -> None:
    """torch names the dynamic dimension after an internal symbol (s22); name it "batch" everywhere."""
    symbols = set()
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and dims[0].dim_param:
            symbols.add(dims[0].dim_param)
    for value in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in symbols:
                dim.dim_param = BATCH


def _strip_build_details(model: onnx.ModelProto) -> None:
    """Drop what ties a graph's bytes to the machine that exported it; the computation is untouched.

    torch writes, per node, the Python stack trace of the op (with the checkout's absolute path and
    line numbers), the FX node text and namespace (with tracer counters) and the class hierarchy; and
    the build tag of torch (``2.14.1+cu130`` / ``+cpu``) as the producer version. Exported from a
    checkout in another folder, the same weights gave other bytes from the first stack trace on.
    Kept: each node's module path (``pkg.torch.onnx.name_scopes``, which ``cats.export.int8`` reads).
    """
    model.producer_version = model.producer_version.split("+")[0]
    for node in model.graph.node:
        kept = [(p.key, p.value) for p in node.metadata_props if p.key == NAME_SCOPES]
        del node.metadata_props[:]
        for key, value in kept:
            node.metadata_props.add(key=key, value=value)
    for value in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        del value.metadata_props[:]


def export_graph(module: nn.Module, example: tuple[torch.Tensor, ...], path: Path, input_names, output_names,
                 batched_inputs: tuple[bool, ...]) -> onnx.ModelProto:
    """Export ``module`` to ONE self-contained ``.onnx`` file at opset 18 with a dynamic batch.

    batched_inputs[i] says whether input i has the batch as its first dimension. Raises
    RuntimeError if the exporter specialised the batch (a graph that only runs at the example size).
    """
    module = module.eval()
    dynamic = tuple({0: torch.export.Dim.DYNAMIC} if b else None for b in batched_inputs)
    path = Path(path)
    with torch.no_grad():
        torch.onnx.export(module, example, str(path), dynamo=True, opset_version=OPSET, external_data=False,
                          input_names=list(input_names), output_names=list(output_names), dynamic_shapes=dynamic,
                          verbose=False)
    model = onnx.load(str(path))
    _strip_build_details(model)
    _name_batch_dims(model)
    for value, batched in zip(list(model.graph.input), batched_inputs):
        first = value.type.tensor_type.shape.dim[0]
        if batched and first.dim_param != BATCH:
            raise RuntimeError(f"export specialised the batch of input {value.name!r} to {first.dim_value}: "
                               "the graph would only run at the example batch size")
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return model


def export_generator(transformer: nn.Module, path: Path, guide: nn.Module | None = None) -> onnx.ModelProto:
    """Export the guided Euler step graph of ``transformer`` (a CatDiT), autoguided by ``guide`` if given, to ``path``."""
    cfg = transformer.config
    step = GeneratorStep(export_friendly(transformer), None if guide is None else export_friendly(guide))
    example = generator_example(cfg.sample_size, cfg.in_channels)
    if guide is not None:
        example = (*example, torch.tensor([2.0]))
    return export_graph(step, example, path, step.INPUTS, GENERATOR_OUTPUTS,
                        (True, True, True, True, False) + ((False,) if guide is not None else ()))


class ClassifierGraph(nn.Module):
    """A CatClassifier as the exported graph: both outputs of ``forward_with_features``."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.classifier.forward_with_features(image)


def export_classifier(classifier: nn.Module, path: Path) -> onnx.ModelProto:
    """Export ``classifier`` (a CatClassifier: normalised image -> raw logits, features) to ``path``."""
    model = export_graph(ClassifierGraph(classifier).eval(), classifier_example(classifier.config.image_size), path,
                         CLASSIFIER_INPUTS, CLASSIFIER_OUTPUTS, (True,))
    out = model.graph.output[0].type.tensor_type.shape.dim
    if out[-1].dim_value != NUM_CLASSIFIER_OUTPUTS:
        raise RuntimeError(f"classifier graph outputs {out[-1].dim_value} logits, expected {NUM_CLASSIFIER_OUTPUTS}")
    return model
