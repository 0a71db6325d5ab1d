"""Image datasets from the Hugging Face Hub: ``hf:OWNER/NAME[:CONFIG][@REVISION]`` through the ``datasets`` library.

The whole dataset is downloaded (no streaming) into the ``datasets`` cache under
``root/hub/datasets``, then each split is decoded once into ``root/hub/<name>/*.npz`` like every
other source. ``OWNER/NAME`` may also be a local directory (a clone of a Hub dataset repository,
parquet files, an image folder): the library reads both the same way, and with ``HF_HUB_OFFLINE=1``
a dataset it downloaded before is read from its cache.

Columns: the image column is the one ``Image`` feature and the label column the ``ClassLabel``
feature whose names hold the most breeds; ``image_column`` / ``label_column`` name them when a
dataset has several (a label column may also hold strings). A ``ClassLabel`` column whose names
include "cat" (Oxford's ``label_cat_dog``) tells cats from other animals. Label names become our
ids through ``cats.data.labels``: breeds by alias, non-cats "other" (kept only with
``include_other``), cats of other breeds refused.

Splits: the dataset's own ``train`` / ``validation`` / ``test`` splits when it has them
("val", "valid", "dev", "testing" and "training" are read the same way); a missing test split is
held out from train per class with a fixed seed (so it never moves), a missing val split from the
rest with ``seed``. Every class keeps at least one image on each side, as in Oxford's val split.

The revision (the Hub commit, or the library's hash of local files) is part of each cache key and
of ``ArrayDataset.provenance``, which the trainer writes into the pipeline it saves.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cats.breeds import OTHER_ID
from cats.data import labels as label_names
from cats.data.cache import cache_key, class_names_for, load_arrays, save_arrays
from cats.data.dataset import ArrayDataset
from cats.data.decode import decode_square
from cats.images import ImageInputError

PREFIX = "hf:"
OXFORD_MIRROR = "timm/oxford-iiit-pet"  # Oxford-IIIT Pet as parquet: cats.data.oxford's fallback
SPLIT_ALIASES = {"train": "train", "training": "train", "validation": "val", "valid": "val", "val": "val",
                 "dev": "val", "test": "test", "testing": "test"}
TEST_SEED = 0  # the held-out test split does not move with --seed
DECODE_BATCH = 256  # rows read from the Arrow table at a time (whole datasets never sit in memory as bytes)


class HubError(RuntimeError):
    """A Hub dataset could not be opened or downloaded; the message says why and what to do."""


class HubAccessError(HubError):
    """Not found, private or gated."""


class HubNetworkError(HubError, ConnectionError):
    """The Hub could not be reached, or a download stopped part-way."""


@dataclass(frozen=True)
class HubSource:
    path: str  # OWNER/NAME on the Hub, or a local directory
    config: str | None = None
    revision: str | None = None

    def __str__(self) -> str:
        return PREFIX + self.path + (f":{self.config}" if self.config else "") + (
            f"@{self.revision}" if self.revision else "")


def parse_source(text: str) -> HubSource:
    """``hf:OWNER/NAME[:CONFIG][@REVISION]`` (or ``hf:/a/local/dir``) -> HubSource; ValueError when malformed."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise ValueError(f"a Hub source starts with {PREFIX!r}, e.g. 'hf:{OXFORD_MIRROR}'; got {text!r}")
    body, revision = text[len(PREFIX):], None
    if "@" in body:
        body, revision = body.rsplit("@", 1)
        if not revision:
            raise ValueError(f"{text!r}: nothing after '@' (give a branch, tag or commit, or leave '@' out)")
    config = None
    head, sep, tail = body.rpartition(":")
    if sep and head and "/" not in tail:  # a config name never holds '/', a local path after ':' would
        body, config = head, tail or None
    if not body or body.endswith("/") or (not Path(body).expanduser().is_absolute() and not body.startswith(".")
                                          and not re.fullmatch(r"[\w.\-]+/[\w.\-]+", body)):
        raise ValueError(f"{text!r} is not a Hub dataset: expected hf:OWNER/NAME[:CONFIG][@REVISION] "
                         f"(e.g. hf:{OXFORD_MIRROR}) or hf:/path/to/a/local/dataset")
    if Path(body).expanduser().is_absolute() or body.startswith("."):
        body = str(Path(body).expanduser().resolve())
    return HubSource(body, config, revision)


# ----------------------------------------------------------------------------------------------
# Opening and downloading (every library error becomes one that names the dataset and the fix)


def _transfer_errors() -> tuple[type[BaseException], ...]:
    """What a dropped connection raises inside ``datasets`` (its HTTP client's errors are not OSErrors)."""
    from datasets.exceptions import DatasetGenerationError  # imported here: only a Hub source needs datasets

    errors: list[type[BaseException]] = [OSError, TimeoutError, DatasetGenerationError]
    try:
        import httpx  # imported here: huggingface_hub's HTTP client, only for a Hub source
        errors.append(httpx.HTTPError)
    except ImportError:  # pragma: no cover - huggingface_hub depends on it
        pass
    return tuple(errors)


def _token_hint() -> str:
    from huggingface_hub import get_token  # imported here: only a Hub source needs huggingface_hub

    if get_token():
        return ("a Hugging Face token is set, but it has no access to it: check the name, accept the dataset's "
                "terms on its page if it is gated, or use a token with read access")
    return ("no Hugging Face token is set: if the dataset is private or gated, create a read token at "
            "https://huggingface.co/settings/tokens and set HF_TOKEN=hf_... (on Modal: `modal secret create "
            "huggingface HF_TOKEN=hf_...`)")


def hf_cache_dir(root: Path) -> Path:
    """Where the ``datasets`` library keeps downloads and Arrow tables (inside the tiny-cats cache, e.g. a Modal Volume)."""
    return Path(root) / "hub" / "datasets"


def open_builder(source: HubSource, root: Path):
    """The library's builder for ``source``, its revision resolved (a network call unless offline or local)."""
    import datasets  # imported here: only a Hub source needs datasets
    from datasets.exceptions import DatasetNotFoundError  # imported here: only a Hub source needs datasets

    cache = hf_cache_dir(root)
    try:
        return datasets.load_dataset_builder(source.path, name=source.config, revision=source.revision,
                                             cache_dir=str(cache))
    except DatasetNotFoundError as exc:
        raise HubAccessError(f"{source}: the Hub has no such dataset, or it is private or gated ({exc}); "
                             f"{_token_hint()}") from exc
    except ConnectionError as exc:
        raise HubNetworkError(f"{source}: could not reach the Hugging Face Hub ({exc}) and the dataset is not in "
                              f"the local cache {cache}; check the network and run again (with HF_HUB_OFFLINE=1 "
                              "only a dataset downloaded before can be read)") from exc
    except FileNotFoundError as exc:
        raise HubAccessError(f"{source}: no dataset there ({exc}); expected hf:OWNER/NAME on the Hub or a local "
                             "directory of parquet/image files") from exc
    except ValueError as exc:
        if "BuilderConfig" in str(exc):  # an unknown CONFIG: the message lists the available ones
            raise ValueError(f"{source}: unknown config {source.config!r}: {exc}") from exc
        raise


def download(builder, source: HubSource):
    """Download and prepare every split (resumable inside the library); returns {split name: Dataset}."""
    try:
        builder.download_and_prepare()
        return dict(builder.as_dataset())
    except _transfer_errors() as exc:
        raise HubNetworkError(f"{source}: the download stopped part-way ({exc.__class__.__name__}: {exc}). Nothing "
                              "was cached for training; run the same command again to continue") from exc


# ----------------------------------------------------------------------------------------------
# Columns and labels


@dataclass(frozen=True)
class Columns:
    image: str
    label: str
    species: str | None  # a ClassLabel saying cat / not cat, when the dataset has one


def _column_list(features) -> str:
    return ", ".join(f"{name} ({type(feature).__name__})" for name, feature in features.items())


def _named(features, name: str, flag: str, what: str) -> str:
    if name not in features:
        raise ValueError(f"{what} has no column {name!r} ({flag}); its columns are: {_column_list(features)}")
    return name


def find_columns(features, image_column: str | None, label_column: str | None, what: str) -> Columns:
    """The image, label and species columns of a dataset's features (see the module docstring)."""
    from datasets import ClassLabel, Image, Value  # imported here: only a Hub source needs datasets

    if image_column is not None:
        image = _named(features, image_column, "--image-column", what)
        if not isinstance(features[image], Image):
            raise ValueError(f"{what}: --image-column {image!r} is a {type(features[image]).__name__} column, not "
                             f"an Image; its columns are: {_column_list(features)}")
    else:
        images = [name for name, f in features.items() if isinstance(f, Image)]
        if not images:
            raise ValueError(f"{what} has no image column (no Image feature); its columns are: "
                             f"{_column_list(features)}. Name it with --image-column if the images are stored "
                             "as an Image feature under another type, or pick an image dataset")
        if len(images) > 1:
            raise ValueError(f"{what} has several image columns ({', '.join(images)}): choose one with --image-column")
        image = images[0]

    class_labels = [name for name, f in features.items() if isinstance(f, ClassLabel)]
    if label_column is not None:
        label = _named(features, label_column, "--label-column", what)
        feature = features[label]
        if not (isinstance(feature, ClassLabel) or (isinstance(feature, Value) and feature.dtype in ("string",
                                                                                                      "large_string"))):
            raise ValueError(f"{what}: --label-column {label!r} is {feature!r}; a label column must be a ClassLabel "
                             "or hold the label names as strings")
    else:
        scored = [(sum(label_names.breed_of(n) is not None for n in features[name].names), name) for name in class_labels]
        scored = [s for s in scored if s[0] > 0] or scored
        if not scored:
            raise ValueError(f"{what} has no label column (no ClassLabel feature); its columns are: "
                             f"{_column_list(features)}. Name the column holding the breed names with --label-column")
        best = max(s[0] for s in scored)
        tied = [name for n, name in scored if n == best]
        if len(tied) > 1:
            raise ValueError(f"{what} has several label columns ({', '.join(tied)}): choose one with --label-column")
        label = tied[0]
    species = [name for name in class_labels if name != label
               and "cat" in {label_names.slug(n) for n in features[name].names}]
    return Columns(image, label, species[0] if len(species) == 1 else None)


def row_classes(dataset, columns: Columns) -> tuple[np.ndarray, list[str], list[bool | None]]:
    """Each row's class index, the class names, and per class whether the species column calls it a cat."""
    from datasets import ClassLabel  # imported here: only a Hub source needs datasets

    feature = dataset.features[columns.label]
    values = list(dataset[columns.label])
    if isinstance(feature, ClassLabel):
        names = list(feature.names)
        classes = np.asarray([-1 if v is None else v for v in values], np.int64)
    else:
        names = sorted({str(v) for v in values if v is not None})
        index = {n: i for i, n in enumerate(names)}
        classes = np.asarray([-1 if v is None else index[str(v)] for v in values], np.int64)
    is_cat: list[bool | None] = [None] * len(names)
    if columns.species is not None:
        species_names = dataset.features[columns.species].names
        cat = [label_names.slug(n) == "cat" for n in species_names]
        species = np.asarray([-1 if v is None else v for v in dataset[columns.species]], np.int64)
        for c in range(len(names)):
            rows = species[classes == c]
            if rows.size:
                is_cat[c] = bool(any(cat[s] for s in rows if s >= 0))
    return classes, names, is_cat


# ----------------------------------------------------------------------------------------------
# Splits


def hold_out(classes: np.ndarray, rows: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Divide ``rows`` per class into (held out, rest): ``round(fraction * n)`` of each class, at least one
    each side for classes of two or more, chosen with ``seed`` (the same rule as Oxford's val split)."""
    held, rest = [], []
    for c in np.unique(classes[rows]):
        members = rows[classes[rows] == c]
        n = len(members)
        n_held = round(fraction * n)
        if n >= 2 and fraction > 0:
            n_held = min(max(n_held, 1), n - 1)
        order = np.random.default_rng([seed, int(c) + 1]).permutation(n)
        held.append(members[np.sort(order[:n_held])])
        rest.append(members[np.sort(order[n_held:])])
    empty = np.empty(0, np.int64)
    return (np.sort(np.concatenate(held)) if held else empty), (np.sort(np.concatenate(rest)) if rest else empty)


def split_pools(splits: dict, what: str) -> dict[str, str]:
    """Our split name -> the dataset's split name, for the splits the dataset has."""
    pools: dict[str, str] = {}
    for name in splits:
        ours = SPLIT_ALIASES.get(name.lower())
        if ours is not None and ours not in pools:
            pools[ours] = name
    if "train" not in pools:
        others = [n for n in splits if SPLIT_ALIASES.get(n.lower()) is None]
        if len(others) == 1:
            pools["train"] = others[0]  # a single unnamed split (e.g. "default") is the pool to divide
        else:
            raise ValueError(f"{what} has no train split: its splits are {', '.join(splits)} "
                             f"(expected train, and optionally validation and test)")
    return pools


# ----------------------------------------------------------------------------------------------
# Loading


def _cache_path(root: Path, source: HubSource, split: str, image_size: int, key: str) -> Path:
    name = re.sub(r"[^\w.\-]+", "_", source.path.strip("/")).strip("_")[-80:]
    return Path(root) / "hub" / name / f"{split}-{image_size}px-{key}.npz"


def _decode_rows(dataset, rows: np.ndarray, ids: np.ndarray, columns: Columns, image_size: int,
                 what: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode the images of ``rows`` (bytes or local paths) to uint8 squares; unreadable ones are skipped."""
    from datasets import Image  # imported here: only a Hub source needs datasets

    raw = dataset.cast_column(columns.image, Image(decode=False))  # bytes, decoded by cats.images like the other sources
    images = np.empty((len(rows), 3, image_size, image_size), np.uint8)
    labels = np.empty(len(rows), np.int64)
    skipped: list[str] = []
    n = 0
    for start in range(0, len(rows), DECODE_BATCH):
        batch = rows[start:start + DECODE_BATCH]
        cells = raw[[int(r) for r in batch]][columns.image]
        for row, cell in zip(batch, cells):
            try:
                if cell is None or (cell.get("bytes") is None and not cell.get("path")):
                    raise ImageInputError("no image in this row")
                data = io.BytesIO(cell["bytes"]) if cell.get("bytes") is not None else Path(cell["path"])
                images[n] = decode_square(data, image_size)
            except (ImageInputError, OSError, ValueError) as exc:
                name = Path(cell["path"]).name if cell and cell.get("path") else f"row {int(row)}"
                skipped.append(f"{name} ({exc.__class__.__name__})")
                continue
            labels[n] = ids[row]
            n += 1
    if skipped:
        warnings.warn(f"{what}: skipped {len(skipped)} of {len(rows)} images that could not be read: "
                      f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}", stacklevel=4)
    return images[:n], labels[:n], skipped


def _build(splits: dict, source: HubSource, split: str, image_size: int, include_other: bool, seed: int,
           image_column: str | None, label_column: str | None, val_fraction: float, test_fraction: float):
    what = str(source)
    pools = split_pools(splits, what)
    train_pool = splits[pools["train"]]
    columns = find_columns(train_pool.features, image_column, label_column, what)
    for name in pools.values():  # every split must have the same columns to be read the same way
        if splits[name].features != train_pool.features:
            raise ValueError(f"{what}: split {name!r} has other columns than {pools['train']!r}")

    if split == "train" or (split == "val" and "val" not in pools) or (split == "test" and "test" not in pools):
        dataset = train_pool
        classes, names, is_cat = row_classes(dataset, columns)
        rows = np.flatnonzero(classes >= 0)
        test, rows = hold_out(classes, rows, test_fraction, TEST_SEED) if "test" not in pools else (None, rows)
        val, rows = hold_out(classes, rows, val_fraction, seed) if "val" not in pools else (None, rows)
        rows = {"train": rows, "val": val, "test": test}[split]
    else:
        dataset = splits[pools[split]]
        classes, names, is_cat = row_classes(dataset, columns)
        rows = np.flatnonzero(classes >= 0)
    ids_of_class = np.asarray(label_names.map_names(names, is_cat, what), np.int64)
    ids = np.where(classes >= 0, ids_of_class[np.maximum(classes, 0)], -1)
    if not include_other:
        rows = rows[ids[rows] != OTHER_ID]  # the generator learns breeds only
    # without a species column "other" was inferred from the names: say which, so a mistake is visible
    mapped_to_other = [] if columns.species else sorted(
        {names[c] for c in np.unique(classes[classes >= 0]) if ids_of_class[c] == OTHER_ID})
    images, labels, skipped = _decode_rows(dataset, rows, ids, columns, image_size, f"{what} {split}")
    if len(images) == 0:
        raise ValueError(f"the {split} split of {what} has no usable images (of {len(rows)} rows)")
    return images, labels, skipped, columns, mapped_to_other


def load(source: str, split: str, image_size: int, root: Path, include_other: bool = False, seed: int = 0,
         image_column: str | None = None, label_column: str | None = None, val_fraction: float = 0.1,
         test_fraction: float = 0.1) -> ArrayDataset:
    """One split of a Hub dataset as an ``ArrayDataset``, decoded once into a cache (see the module docstring)."""
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    parsed = parse_source(source)
    builder = open_builder(parsed, root)
    revision = str(builder.hash or parsed.revision or "unknown")
    config = builder.config.name
    key = cache_key(path=parsed.path, config=config, revision=revision, split=split, size=image_size,
                    other=include_other, seed=seed, image_column=image_column, label_column=label_column,
                    val=val_fraction, test=test_fraction)
    path = _cache_path(root, parsed, split, image_size, key)
    arrays = load_arrays(path, ("images", "labels", "skipped", "columns"))
    if arrays is None:
        images, labels, skipped, columns, to_other = _build(download(builder, parsed), parsed, split, image_size,
                                                            include_other, seed, image_column, label_column,
                                                            val_fraction, test_fraction)
        if to_other and include_other:
            warnings.warn(f"{parsed}: labels {', '.join(map(repr, to_other))} are not cats and become \"other\"",
                          stacklevel=3)
        arrays = {"images": images, "labels": labels, "skipped": np.array(len(skipped)),
                  "columns": np.array([columns.image, columns.label, columns.species or ""])}
        save_arrays(path, **arrays)  # atomic: an interrupted run leaves no file a later run would trust
    image_col, label_col, species_col = (str(c) for c in arrays["columns"])
    provenance = {"source": f"{PREFIX}{parsed.path}" + (f":{parsed.config}" if parsed.config else ""),
                  "config": config, "revision": revision, "split": split, "images": int(len(arrays["labels"])),
                  "image_column": image_col, "label_column": label_col, "species_column": species_col or None}
    return ArrayDataset(arrays["images"], arrays["labels"], class_names_for(include_other), source=str(parsed),
                        split=split, skipped=int(arrays["skipped"]), provenance=provenance)
