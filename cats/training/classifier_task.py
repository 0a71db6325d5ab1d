"""The classifier task: augmented cross-entropy with label smoothing, accuracy on val, calibration, save/attach."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator

from cats.breeds import NUM_CLASSIFIER_OUTPUTS
from cats.classify import calibrate_unsure_threshold, expected_calibration_error, fit_temperature, softmax
from cats.models.classifier import PRESETS, CatClassifier
from cats.pipeline import CatsPipeline
from cats.training.batches import IndexStream, load_split
from cats.training.config import TrainConfig
from cats.training.ood_features import fit_classifier
from cats.training.transforms import augment, class_balanced_weights, eval_transform

log = logging.getLogger("cats.train")

IMBALANCE_RATIO = 1.5  # class-balanced sampling when the largest class is this many times the smallest
EVAL_BATCH = 256


class ClassifierTask:
    """CatClassifier (12 breeds + "other") fine-tuned with on-device augmentation."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator):
        if config.preset not in PRESETS:
            raise ValueError(f"unknown classifier preset {config.preset!r}: choose one of {', '.join(PRESETS)}")
        size = config.image_size or PRESETS[config.preset]["image_size"]
        self.config = replace(config, image_size=size, prediction_type=None)
        self.accelerator = accelerator
        self.device = accelerator.device
        self.train = load_split(self.config, "train", include_other=True, device=self.device)
        self.val = load_split(self.config, "val", include_other=True, device=self.device)
        self.stream = IndexStream(len(self.train), self.config.seed)
        self.images_per_micro_batch = self.config.batch_size
        counts = torch.bincount(self.train.labels.cpu(), minlength=NUM_CLASSIFIER_OUTPUTS)
        present = counts[counts > 0]
        self.balanced = bool(present.max() > IMBALANCE_RATIO * present.min())
        self.sample_weights = None
        if self.balanced:
            self.sample_weights = class_balanced_weights(self.train.labels, NUM_CLASSIFIER_OUTPUTS)
            log.info("class-balanced sampling: class counts %s", counts.tolist())
        self.model_config = None

    def build_model(self) -> torch.nn.Module:
        cfg = self.config
        pretrained = {"imagenet": True, "none": False}.get(cfg.pretrained, cfg.pretrained)
        model = CatClassifier.from_preset(cfg.preset, pretrained=pretrained, image_size=cfg.image_size)
        self.model_config = model.config
        return model

    def _indices(self, step: int, micro: int, generator: torch.Generator) -> torch.Tensor:
        cfg, acc = self.config, self.accelerator
        if self.balanced:  # each process draws its own micro-batch with replacement (its generator has its rank)
            return torch.multinomial(self.sample_weights, cfg.batch_size, replacement=True, generator=generator)
        return self.stream.batch(step, micro, cfg.grad_accum, cfg.batch_size, acc.process_index, acc.num_processes)

    def micro_batch_loss(self, model, step: int, micro: int, generator: torch.Generator) -> torch.Tensor:
        cfg, mc = self.config, self.model_config
        idx = self._indices(step, micro, generator).to(self.device)
        device_generator = torch.Generator(self.device).manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        x = augment(self.train.images[idx], device_generator, cfg.image_size, mc.mean, mc.std)  # (B, 3, S, S)
        logits = model(x)  # (B, 13)
        return F.cross_entropy(logits.float(), self.train.labels[idx], label_smoothing=cfg.label_smoothing)

    @torch.no_grad()
    def val_logits(self, model) -> torch.Tensor:
        """Raw logits (N, 13) of the val split, deterministic preprocessing."""
        mc = self.model_config
        model.eval()
        out = []
        for start in range(0, len(self.val), EVAL_BATCH):
            x = eval_transform(self.val.images[start:start + EVAL_BATCH], self.config.image_size, mc.mean, mc.std)
            with self.accelerator.autocast():
                out.append(model(x).float())
        return torch.cat(out)

    def validate(self, model) -> dict[str, float]:
        logits = self.val_logits(model)
        labels = self.val.labels
        return {"loss": float(F.cross_entropy(logits, labels)),
                "accuracy": float((logits.argmax(1) == labels).float().mean())}

    def sample(self, model) -> None:
        return None  # nothing to draw for a classifier

    def fit_ood(self, model):
        """Familiarity statistics (cats.ood): class means + shared covariance of the un-augmented train split,
        threshold so that 95% of val passes; attached to ``model`` (saved with it as ood.safetensors). In float32,
        without autocast: the statistics must describe the features serving computes."""
        return fit_classifier(model, self.train.images, self.train.labels.cpu().numpy(), self.val.images,
                              info={"data": self.config.data})

    def finish(self, model, run_dir: Path, val_metrics: dict[str, float]) -> dict:
        """Fit the temperature, the unsure threshold and the familiarity statistics on train/val, save
        RUN_DIR/classifier, metrics.json, attach."""
        logits = self.val_logits(model).cpu().numpy()
        labels = self.val.labels.cpu().numpy()
        temperature = fit_temperature(logits, labels)
        probs = softmax(logits, temperature)
        threshold = calibrate_unsure_threshold(probs, labels)
        model.set_calibration(temperature=temperature, unsure_threshold=threshold)
        ood = self.fit_ood(model)
        model.save_pretrained(str(Path(run_dir) / "classifier"))
        metrics = {
            "val_accuracy": float(np.mean(logits.argmax(1) == labels)),
            "val_loss": val_metrics["loss"],
            "val_images": int(len(labels)),
            "temperature": float(temperature),
            "unsure_threshold": float(threshold),
            "ece_before": float(expected_calibration_error(softmax(logits), labels)),
            "ece_after": float(expected_calibration_error(probs, labels)),
            "ood_layer": ood.layer,
            "ood_threshold": ood.threshold,
            "ood_val_pass_rate": ood.info["val_pass_rate"],
        }
        (Path(run_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        print(f"classifier validation accuracy {metrics['val_accuracy']:.4f} on {len(labels)} images "
              f"(temperature {temperature:.3f}, unsure under {threshold:.3f}, unfamiliar over {ood.threshold:.1f})")
        if self.config.attach_to:
            attach(model, Path(self.config.attach_to))
        return metrics


def attach(classifier, pipeline_dir: Path) -> None:
    """Save ``classifier`` into an existing pipeline directory as its ``classifier`` module."""
    if not (pipeline_dir / "model_index.json").is_file():
        raise FileNotFoundError(f"--attach-to {str(pipeline_dir)!r} is not a pipeline directory (no model_index.json); "
                                "train the generator first (its RUN_DIR/pipeline) or pass a saved CatsPipeline")
    pipe = CatsPipeline.from_pretrained(str(pipeline_dir))
    pipe.register_modules(classifier=classifier)
    # Save beside, then move the new parts in: never overwrite weight files the loaded pipeline may still map.
    with tempfile.TemporaryDirectory(dir=pipeline_dir.parent) as tmp:
        pipe.save_pretrained(tmp)
        target = pipeline_dir / "classifier"
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(Path(tmp) / "classifier"), str(target))
        shutil.move(str(Path(tmp) / "model_index.json"), str(pipeline_dir / "model_index.json"))
    log.info("attached the classifier to %s", pipeline_dir)
