"""``python -m cats.evaluation.ood {fit,compare}``: refit a classifier's familiarity statistics; compare OOD scores.

  python -m cats.evaluation.ood fit --model synthcats --data synthcats     # writes ood.safetensors + config.json keys
  python -m cats.evaluation.ood compare --model synthcats --data synthcats --out docs/OOD.md

``compare`` measures several scores on the same held-out data, each with its threshold set on the
val split to let 95% through: energy, max softmax probability, k-NN (cosine) and Mahalanobis on the
penultimate features, and Mahalanobis on the chosen stage. Out-of-distribution probes:
``cats.ood.probes`` (scikit-image photos, LFW faces, generated non-pictures; needs requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from cats.classify import softmax
from cats.data import load_dataset
from cats.evaluation.classifier import find_classifier_dir
from cats.models.classifier import CatClassifier
from cats.ood import DEFAULT_SHRINKAGE, DEFAULT_TPR, OOD_FILE, OodStats, auroc, fit_gaussian, threshold_at
from cats.ood.probes import held_out_faces, non_pictures, real_photos
from cats.training.ood_features import fit_classifier, logits_and_features, logits_and_features_of


def _load(args):
    directory = find_classifier_dir(args.model)
    model = CatClassifier.from_pretrained(directory).float().eval()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    extra = {"root": args.data_root} if args.data_root else {}
    splits = {}
    for split in args.splits:
        ds = load_dataset(args.data, split=split, image_size=model.config.image_size, include_other=True,
                          download=args.download, **extra)
        splits[split] = (torch.as_tensor(ds.images), np.asarray(ds.labels, dtype=np.int64))
    return directory, model, splits


def run_fit(args) -> dict:
    args.splits = ("train", "val")
    directory, model, splits = _load(args)
    (train_x, train_y), (val_x, _) = splits["train"], splits["val"]
    stats = fit_classifier(model, train_x, train_y, val_x, tpr=args.tpr, shrinkage=args.shrinkage,
                           info={"data": args.data})
    stats.save(directory)
    # Only the two keys change: the weights file (and every other config entry) stays byte-identical.
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text())
    config.update(ood_layer=stats.layer, ood_threshold=stats.threshold)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    print(f"familiarity on {stats.layer} ({stats.dim} dims): threshold {stats.threshold:.2f}, "
          f"{100 * stats.info['val_pass_rate']:.1f}% of {stats.info['val_images']} val images pass; "
          f"wrote {directory / OOD_FILE} and {config_path}")
    return stats.metadata()


def _energy(logits, temperature):
    z = logits / temperature
    m = z.max(axis=1, keepdims=True)
    return -temperature * (m[:, 0] + np.log(np.exp(z - m).sum(axis=1)))


def _msp(logits, temperature):
    return -softmax(logits, temperature).max(axis=1)


def _knn(bank, k):
    unit = bank / np.linalg.norm(bank, axis=1, keepdims=True).clip(1e-12)

    def score(features):
        f = features / np.linalg.norm(features, axis=1, keepdims=True).clip(1e-12)
        return -np.sort(f @ unit.T, axis=1)[:, -k]
    return score


def _raw_mahalanobis(train_f, train_y, shrinkage):
    # The same shared-covariance fit on the features themselves (no sqrt): squares undo the transform.
    whitener, means = fit_gaussian(np.square(np.maximum(train_f, 0)), train_y, shrinkage)

    def score(features):
        d = (features @ whitener)[:, None, :] - means[None]
        return (d * d).sum(axis=2).min(axis=1)
    return score


def run_compare(args) -> str:
    args.splits = ("train", "val", "test")
    directory, model, splits = _load(args)
    chosen = model.ood_layer
    blocks = [f"{model.trunk_name}.{n}" for n, _ in model._trunk().named_children()]
    penultimate = blocks[-1]
    photos, nonpics, faces = real_photos(), non_pictures(), held_out_faces()
    probe_sets = {"photos": list(photos.values()), "non-pictures": list(nonpics.values()), "faces": faces}
    data = {}  # layer -> {set: (logits, features)}
    for layer in (penultimate, chosen):
        model.ood_layer = layer
        data[layer] = {s: logits_and_features(model, x) for s, (x, _) in splits.items()}
        data[layer].update({s: logits_and_features_of(model, p) for s, p in probe_sets.items()})
    model.ood_layer = chosen
    t = model.config.temperature
    train_y = splits["train"][1]
    methods = {
        "energy (tempered logits)": (penultimate, lambda logits, f: _energy(logits, t)),
        "max softmax probability": (penultimate, lambda logits, f: _msp(logits, t)),
        f"k-NN cosine, k={args.k}, penultimate": (penultimate, None),
        "Mahalanobis, penultimate": (penultimate, None),
        "Mahalanobis, penultimate, sqrt": (penultimate, None),
        f"Mahalanobis, {chosen}": (chosen, None),
        f"Mahalanobis, {chosen}, sqrt (shipped)": (chosen, None),
    }
    shrink = args.shrinkage
    for name, (layer, fn) in list(methods.items()):
        train_f = data[layer]["train"][1]
        if name.startswith("k-NN"):
            knn = _knn(train_f, args.k)
            fn = (lambda nn: lambda logits, f: nn(f))(knn)
        elif name.endswith("sqrt") or name.endswith("(shipped)"):
            w, m = fit_gaussian(train_f, train_y, shrink)
            stats = OodStats(w, m, 1.0, layer)
            fn = (lambda s: lambda logits, f: s.score(f))(stats)
        elif name.startswith("Mahalanobis"):
            maha = _raw_mahalanobis(train_f, train_y, shrink)
            fn = (lambda s: lambda logits, f: s(f))(maha)
        methods[name] = (layer, fn)

    test_y = splits["test"][1]
    rows = []
    for name, (layer, fn) in methods.items():
        scores = {s: fn(*data[layer][s]) for s in data[layer]}
        thr = threshold_at(scores["val"], 0.95)
        passed = scores["test"] <= thr
        pred = data[layer]["test"][0].argmax(axis=1)
        rows.append((name, np.mean(passed), np.mean(pred[passed] == test_y[passed]), np.mean(pred == test_y),
                     np.mean(scores["photos"] > thr), np.mean(scores["non-pictures"] > thr),
                     np.mean(scores["faces"] > thr), auroc(scores["test"], scores["photos"])))
    n = {s: len(p) for s, p in probe_sets.items()}
    head = (f"| score (threshold: 95% of {len(splits['val'][1])} val images pass) | SynthCats test passing "
            f"(n={len(test_y)}) | top-1 on passing / on all | photos unfamiliar (n={n['photos']}) | "
            f"non-pictures unfamiliar (n={n['non-pictures']}) | held-out faces unfamiliar (n={n['faces']}) | "
            "AUROC test vs photos |\n| --- | --- | --- | --- | --- | --- | --- |")
    lines = [head] + [f"| {r[0]} | {100 * r[1]:.1f}% | {100 * r[2]:.2f}% / {100 * r[3]:.2f}% | {100 * r[4]:.1f}% | "
                      f"{100 * r[5]:.1f}% | {100 * r[6]:.1f}% | {r[7]:.3f} |" for r in rows]
    table = "\n".join(lines)
    print(f"classifier {directory}; data {args.data}; penultimate = {penultimate}; shrinkage {shrink}\n{table}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table + "\n")
        print(f"wrote {args.out}")
    return table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cats.evaluation.ood", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (("fit", run_fit, "refit the familiarity statistics of an existing classifier"),
                             ("compare", run_compare, "compare OOD scores on held-out data (needs scikit-image)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--model", required=True, help="pipeline dir, classifier dir or a bundled name (synthcats)")
        p.add_argument("--data", required=True, help="synthcats | oxford | folder:PATH (the classifier's training data)")
        p.add_argument("--data-root", default=None, help="dataset cache directory")
        p.add_argument("--download", action="store_true", help="download Oxford-IIIT Pet if missing")
        p.add_argument("--device", default=None, help="torch device (default cuda when available, else cpu)")
        p.add_argument("--shrinkage", type=float, default=DEFAULT_SHRINKAGE, help="covariance shrinkage (default %(default)s)")
        if name == "fit":
            p.add_argument("--tpr", type=float, default=DEFAULT_TPR,
                           help="share of val images that must pass as familiar (default %(default)s)")
        else:
            p.add_argument("--k", type=int, default=10, help="k of the k-NN score (default %(default)s)")
            p.add_argument("--out", default=None, help="also write the markdown table here")
        p.set_defaults(func=func)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
