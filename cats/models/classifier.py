"""The breed classifier: a small torchvision backbone with a 13-way head (12 breeds + "other").

``CatClassifier`` is a diffusers ``ModelMixin``/``ConfigMixin``: the constructor arguments are its
config, saved with the weights (safetensors) so ``CatClassifier.from_pretrained(dir)`` needs no
flags. ``forward`` returns RAW logits; the fitted ``temperature`` and the ``unsure_threshold`` live
in the config and are applied by ``cats.classify`` in NumPy, so the ONNX side (whose graph also
outputs raw logits and whose manifest carries both numbers) shares that code.

The whole torchvision model is kept as ``self.net`` with its last ``Linear`` swapped for a
13-way one, so an ImageNet state dict loads into it key for key (minus the 1000-way head).

Familiarity (``cats.ood``): ``forward_with_features`` also returns the global average of one backbone
stage (``ood_layer``), the input of the out-of-distribution score. The fitted statistics are NumPy
arrays in ``self.ood`` (a ``cats.ood.OodStats``), saved as ``ood.safetensors`` beside the weights, so
the network's state dict, and every checkpoint saved before them, stay as they were; the threshold
and layer are also in the config.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import torch.nn as nn
from diffusers import ModelMixin
from diffusers.configuration_utils import ConfigMixin, register_to_config
from huggingface_hub import hf_hub_download
from safetensors.torch import load_file
from torchvision.models import get_model, get_model_weights

from cats.breeds import NUM_CLASSIFIER_OUTPUTS
from cats.ood import OOD_FILE, OodStats

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Backbones small enough for the browser (<= 10 MB of fp16 weights). Parameter counts are
# torchvision's with the 1000-way head; ImageNet-1K top-1 is torchvision's published figure for
# the weights `from_backbone(..., pretrained=True)` downloads (its DEFAULT weights).
BACKBONES = {
    "regnet_y_400mf": "4.3 M params, 0.40 GFLOPs @224, 75.8% top-1 (IMAGENET1K_V2)",  # default
    "mobilenet_v3_large": "5.5 M params, 0.22 GFLOPs @224, 75.3% top-1 (IMAGENET1K_V2)",
    "efficientnet_b0": "5.3 M params, 0.39 GFLOPs @224, 77.7% top-1 (IMAGENET1K_V1)",
    "mobilenet_v3_small": "2.5 M params, 0.06 GFLOPs @224, 67.7% top-1 (IMAGENET1K_V1)",
}
DEFAULT_BACKBONE = "regnet_y_400mf"

# The stage whose pooled output feeds the familiarity score: a child of the backbone's trunk
# (``trunk_output`` for RegNet, ``features`` for MobileNet/EfficientNet). On the SynthCats RegNetY
# the third of four stages separates photos from drawings far better than the penultimate features
# (docs/OOD.md); the others sit at a similar depth and were not measured.
OOD_LAYERS = {
    "regnet_y_400mf": "trunk_output.block3",
    "mobilenet_v3_large": "features.12",
    "efficientnet_b0": "features.6",
    "mobilenet_v3_small": "features.9",
}

# Named presets for the training CLI (`--preset`): backbone + input size.
PRESETS = {
    "tiny": {"backbone": "regnet_y_400mf", "image_size": 64},  # SynthCats; 3.9 M params, 7.8 MB fp16
    "base": {"backbone": "regnet_y_400mf", "image_size": 224},  # real photos (Oxford-IIIT Pet)
}


def _check_backbone(backbone: str) -> None:
    if backbone not in BACKBONES:
        raise ValueError(f"unknown classifier backbone {backbone!r}: choose one of {', '.join(BACKBONES)}")


def _last_linear_name(module: nn.Module) -> str:
    """Dotted name of the last nn.Linear (the ImageNet head: `fc`, `classifier.3`, ...)."""
    names = [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError(f"{type(module).__name__} has no Linear head to replace")
    return names[-1]


class CatClassifier(ModelMixin, ConfigMixin):
    """Cat-breed classifier. ``forward(x (B,3,S,S) normalised with mean/std) -> logits (B,13)``.

    Config: ``backbone`` (a key of BACKBONES), ``num_classes`` (13: breeds 0..11, "other" 12),
    ``image_size`` S (64 for SynthCats, 224 for photos), ``mean``/``std`` (per-channel, applied to
    [0, 1] pixels), ``temperature`` (> 0, fitted on validation logits; 1.0 = not calibrated),
    ``unsure_threshold`` (top probability under which the answer is "unsure"), ``ood_layer`` (the stage
    scored for familiarity; None = the backbone's OOD_LAYERS entry) and ``ood_threshold`` (the fitted
    familiarity threshold, None until ``cats.ood`` statistics are fitted).
    """

    @register_to_config
    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        num_classes: int = NUM_CLASSIFIER_OUTPUTS,
        image_size: int = 64,
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
        temperature: float = 1.0,
        unsure_threshold: float = 0.5,
        ood_layer: str | None = None,
        ood_threshold: float | None = None,
    ):
        super().__init__()
        _check_backbone(backbone)
        if num_classes != NUM_CLASSIFIER_OUTPUTS:
            raise ValueError(f"num_classes must be {NUM_CLASSIFIER_OUTPUTS} (12 breeds + 'other'), got {num_classes}")
        if not isinstance(image_size, int) or image_size < 32:
            raise ValueError(f"image_size must be an int >= 32 (64 for SynthCats, 224 for photos), got {image_size!r}")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean and std need 3 channels with std > 0, got mean={mean!r} std={std!r}")
        _check_calibration(temperature, unsure_threshold)
        net = get_model(backbone, weights=None)  # never downloads here; see from_backbone
        head_name = _last_linear_name(net)
        parent_name, _, attr = head_name.rpartition(".")
        parent = net.get_submodule(parent_name) if parent_name else net
        old = getattr(parent, attr)
        setattr(parent, attr, nn.Linear(old.in_features, num_classes))
        self.net = net
        self.head_name = head_name  # e.g. "fc" for RegNet, "classifier.3" for MobileNetV3
        self.trunk_name = "trunk_output" if hasattr(net, "trunk_output") else "features"
        layer = OOD_LAYERS[backbone] if ood_layer is None else ood_layer
        blocks = [f"{self.trunk_name}.{n}" for n, _ in self._trunk().named_children()]
        if layer not in blocks:
            raise ValueError(f"ood_layer {layer!r} is not a stage of {backbone}: choose one of {', '.join(blocks)}")
        self.ood_layer = layer
        if ood_threshold is not None and not (isinstance(ood_threshold, (int, float)) and ood_threshold > 0):
            raise ValueError(f"ood_threshold must be a positive number or None, got {ood_threshold!r}")
        self.ood: OodStats | None = None  # set by set_ood / from_pretrained (ood.safetensors)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, S, S) float, already normalised -> raw logits (B, 13) (no temperature)."""
        return self.net(x)

    def _trunk(self) -> nn.Module:
        return getattr(self.net, self.trunk_name)

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 3, S, S) -> (raw logits (B, 13), features (B, D)): the same logits as ``forward``, and the
        global average of the ``ood_layer`` stage's output (the familiarity score's input)."""
        net = self.net
        h = net.stem(x) if self.trunk_name == "trunk_output" else x
        features = None
        for name, block in self._trunk().named_children():
            h = block(h)
            if f"{self.trunk_name}.{name}" == self.ood_layer:
                features = h.mean(dim=(2, 3))
        pooled = torch.flatten(net.avgpool(h), 1)
        logits = net.fc(pooled) if self.trunk_name == "trunk_output" else net.classifier(pooled)
        return logits, features

    def set_ood(self, stats: OodStats | None) -> None:
        """Attach fitted familiarity statistics (or drop them with None); threshold and layer go into the config."""
        if stats is not None and stats.layer != self.ood_layer:
            raise ValueError(f"these OOD statistics were fitted on layer {stats.layer!r}, this classifier "
                             f"scores {self.ood_layer!r}")
        self.ood = stats
        self.register_to_config(ood_layer=self.ood_layer, ood_threshold=None if stats is None else stats.threshold)

    def save_pretrained(self, save_directory, *args, **kwargs) -> None:
        """ModelMixin.save_pretrained, plus ``ood.safetensors`` when statistics are attached."""
        super().save_pretrained(save_directory, *args, **kwargs)
        if not kwargs.get("is_main_process", True):
            return
        path = Path(save_directory) / OOD_FILE
        if self.ood is not None:
            self.ood.save(save_directory)
        elif path.exists():
            path.unlink()  # a stale file from an earlier save must not outlive its config

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs) -> CatClassifier:
        """ModelMixin.from_pretrained, plus the familiarity statistics when the config says it has them."""
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        threshold = model.config.get("ood_threshold")
        if threshold is None:
            return model
        directory = Path(pretrained_model_name_or_path) / (kwargs.get("subfolder") or "")
        if not directory.is_dir():
            directory = Path(hf_hub_download(str(pretrained_model_name_or_path), OOD_FILE,
                                             subfolder=kwargs.get("subfolder"))).parent
        stats = OodStats.load(directory)
        if abs(stats.threshold - float(threshold)) > 1e-9 * max(1.0, abs(stats.threshold)):
            raise ValueError(f"{directory}: config.json says ood_threshold {threshold!r} but {OOD_FILE} says "
                             f"{stats.threshold!r}; refit with `python -m cats.evaluation.ood fit --model {directory}`")
        model.set_ood(stats)
        return model

    def set_calibration(self, temperature: float | None = None, unsure_threshold: float | None = None) -> None:
        """Store a fitted temperature and/or threshold in the config (saved by save_pretrained)."""
        new_t = self.config.temperature if temperature is None else float(temperature)
        new_u = self.config.unsure_threshold if unsure_threshold is None else float(unsure_threshold)
        _check_calibration(new_t, new_u)
        self.register_to_config(temperature=new_t, unsure_threshold=new_u)

    @classmethod
    def from_backbone(cls, backbone: str = DEFAULT_BACKBONE, pretrained: bool | str | os.PathLike = True,
                      **config) -> CatClassifier:
        """Build a classifier whose backbone starts from ImageNet weights.

        pretrained: True -> torchvision's DEFAULT ImageNet weights (downloaded once into the torch
        hub cache; where there is no network, ONE warning is logged and the backbone starts from
        random init); False -> random init; a path -> a torchvision state dict of that backbone
        (.pth/.pt via torch.save, or .safetensors), loaded with no network. The 1000-way ImageNet
        head is dropped; the 13-way head is always freshly initialised.
        """
        _check_backbone(backbone)
        model = cls(backbone=backbone, **config)
        if pretrained is True:
            state = _download_imagenet_state_dict(backbone)
            if state is not None:
                model.load_backbone_state_dict(state, source=f"torchvision {backbone} ImageNet weights")
        elif isinstance(pretrained, (str, os.PathLike)):
            model.load_backbone_state_dict(_read_state_dict(Path(pretrained)), source=str(pretrained))
        elif pretrained is not False:
            raise ValueError(f"pretrained must be True, False or a path to a state dict, got {pretrained!r}")
        return model

    @classmethod
    def from_preset(cls, name: str, pretrained: bool | str | os.PathLike = True, **config) -> CatClassifier:
        """``from_backbone`` with a named preset's backbone and image size (config overrides the rest)."""
        if name not in PRESETS:
            raise ValueError(f"unknown classifier preset {name!r}: choose one of {', '.join(PRESETS)}")
        preset = {**PRESETS[name], **config}
        return cls.from_backbone(preset.pop("backbone"), pretrained=pretrained, **preset)

    def load_backbone_state_dict(self, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
        """Load a torchvision state dict of this backbone, skipping its classification head.

        Raises ValueError (naming ``source``) if any other key is missing, unexpected or mis-shaped:
        a state dict of another architecture must never half-load silently.
        """
        head_prefix = self.head_name + "."
        body = {k: v for k, v in state.items() if not k.startswith(head_prefix)}
        own = {k: v for k, v in self.net.state_dict().items() if not k.startswith(head_prefix)}
        missing = sorted(set(own) - set(body))
        unexpected = sorted(set(body) - set(own))
        wrong = sorted(k for k in set(own) & set(body) if tuple(own[k].shape) != tuple(body[k].shape))
        if missing or unexpected or wrong:
            raise ValueError(
                f"{source} does not match backbone {self.config.backbone!r}: "
                f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}, "
                f"{len(wrong)} with other shapes {wrong[:3]}; pass a state dict saved from "
                f"torchvision.models.{self.config.backbone}()")
        self.net.load_state_dict(body, strict=False)
        logger.info("loaded %d backbone tensors from %s", len(body), source)


def _check_calibration(temperature: float, unsure_threshold: float) -> None:
    if not (isinstance(temperature, (int, float)) and 0.0 < float(temperature) < float("inf")):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    if not (isinstance(unsure_threshold, (int, float)) and 0.0 <= float(unsure_threshold) <= 1.0):
        raise ValueError(f"unsure_threshold must be a probability in [0, 1], got {unsure_threshold!r}")


def _download_imagenet_state_dict(backbone: str) -> dict[str, torch.Tensor] | None:
    """torchvision's DEFAULT ImageNet weights, or None (with one warning) if they cannot be fetched."""
    weights = get_model_weights(backbone).DEFAULT
    try:
        return torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", progress=False, check_hash=True,
                                              weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:  # URLError/HTTPError/timeouts are OSErrors
        logger.warning(
            "Could not download ImageNet weights for %s from %s (%s: %s). The classifier backbone starts "
            "from RANDOM init; expect much lower accuracy on real photos. Pass pretrained='path/to/%s.pth' "
            "(a torchvision state dict) to load them from a file.",
            backbone, weights.url, type(exc).__name__, exc, backbone)
        return None


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"no pretrained weights file at {str(path)!r}")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, expected a state dict (torch.save(model.state_dict()))")
    return state
