"""Small datasets in the layouts the Hub source reads, written with the ``datasets`` library (no network).

* ``build_oxford_mirror``: the miniature Oxford-IIIT Pet of ``oxford_fixture``, laid out like the
  Hub repository ``timm/oxford-iiit-pet``: ``README.md`` (configs), ``data/train-*.parquet``
  (the official trainval list) and ``data/test-*.parquet``, columns ``image`` (Image), ``label``
  (ClassLabel with the 37 Oxford names, lower case with underscores, in Oxford's CLASS-ID order),
  ``image_id`` (the file stem) and ``label_cat_dog`` (ClassLabel cat / dog). Same JPEG bytes as
  the archive layout, rows in the order of the official lists.
* ``build_generic``: an image/label dataset with its own spellings of the breeds, one colour per
  class (so a test can check that every image kept its label), other columns, only a train split.
* ``cache_as_hub``: put a local dataset into the ``datasets`` cache as if it had been downloaded
  from the Hub as OWNER/NAME at a revision, so ``hf:OWNER/NAME`` loads it with HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests import oxford_fixture as ox

# timm/oxford-iiit-pet's `label` names, index = Oxford CLASS-ID - 1
OXFORD_LABELS = (
    "abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "bengal", "birman",
    "bombay", "boxer", "british_shorthair", "chihuahua", "egyptian_mau", "english_cocker_spaniel",
    "english_setter", "german_shorthaired", "great_pyrenees", "havanese", "japanese_chin", "keeshond",
    "leonberger", "maine_coon", "miniature_pinscher", "newfoundland", "persian", "pomeranian", "pug", "ragdoll",
    "russian_blue", "saint_bernard", "samoyed", "scottish_terrier", "shiba_inu", "siamese", "sphynx",
    "staffordshire_bull_terrier", "wheaten_terrier", "yorkshire_terrier",
)
OXFORD_README = """---
license: cc-by-sa-4.0
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: test
    path: data/test-*
---
# The Oxford-IIIT Pet Dataset (test miniature)
"""

# generic dataset: label name as the dataset spells it -> (our class name, colour, images)
GENERIC_LABELS = {
    "maine-coon": ("Maine Coon", (200, 120, 40), 10),
    "Russian_Blue": ("Russian Blue", (90, 110, 150), 10),
    "SIAMESE": ("Siamese", (230, 220, 200), 10),
    "Bengal Cat": ("Bengal", (190, 140, 60), 10),
    "sphinx": ("Sphynx", (230, 170, 170), 10),
    "golden retriever": ("other", (220, 180, 90), 10),
    "parrot": ("other", (40, 200, 60), 10),
}


def _jpeg(colour, rng: np.random.Generator, size=(40, 30)) -> bytes:
    img = np.empty((size[1], size[0], 3), np.uint8)
    img[:] = colour
    img = np.clip(img.astype(np.int16) + rng.integers(-4, 5, img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _write_split(directory: Path, split: str, columns: dict, features) -> None:
    from datasets import Dataset

    (directory / "data").mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(columns, features=features).to_parquet(str(directory / "data" / f"{split}-00000-of-00001.parquet"))


def build_oxford_mirror(directory: Path) -> Path:
    """``directory`` (named like the Hub repository, oxford-iiit-pet) in the timm/oxford-iiit-pet layout."""
    from datasets import ClassLabel, Features, Value
    from datasets import Image as HFImage

    source = ox.build(directory.parent / f".{directory.name}-archive-layout")
    features = Features({"image": HFImage(), "label": ClassLabel(names=list(OXFORD_LABELS)),
                         "image_id": Value("string"), "label_cat_dog": ClassLabel(names=["cat", "dog"])})
    for split, listing in (("train", "trainval"), ("test", "test")):
        rows = ox.names(listing)
        _write_split(directory, split, {
            "image": [{"bytes": (source / "images" / f"{name}.jpg").read_bytes(), "path": f"{name}.jpg"}
                      for name, *_ in rows],
            "label": [OXFORD_LABELS.index(name.rsplit("_", 1)[0].lower()) for name, *_ in rows],
            "image_id": [name for name, *_ in rows],
            "label_cat_dog": [species - 1 for _, _, species, _ in rows],
        }, features)
    (directory / "README.md").write_text(OXFORD_README)
    return directory


def build_generic(directory: Path, labels: dict = GENERIC_LABELS, splits=("train",), image_column="photo",
                  label_column="breed", string_labels: bool = False, seed: int = 0) -> Path:
    """An image/label dataset (see the module docstring); ``string_labels`` stores the names as strings."""
    from datasets import ClassLabel, Features, Value
    from datasets import Image as HFImage

    rng = np.random.default_rng(seed)
    names = list(labels)
    label_feature = Value("string") if string_labels else ClassLabel(names=names)
    features = Features({"caption": Value("string"), image_column: HFImage(), label_column: label_feature,
                         "width": Value("int32")})
    for split in splits:
        photos, classes = [], []
        for name, (_, colour, count) in labels.items():
            photos += [{"bytes": _jpeg(colour, rng), "path": None} for _ in range(count)]
            classes += [name if string_labels else names.index(name)] * count
        order = rng.permutation(len(photos))  # classes interleaved, as in a real export
        _write_split(directory, split, {
            "caption": [f"a photo of a {names[classes[i]] if not string_labels else classes[i]}" for i in order],
            image_column: [photos[i] for i in order], label_column: [classes[i] for i in order],
            "width": [40] * len(order)}, features)
    return directory


def cache_as_hub(local: Path, hf_cache: Path, repo_id: str, revision: str, config: str = "default") -> Path:
    """Prepare ``local`` into ``hf_cache`` where the library keeps ``repo_id`` downloaded at ``revision``."""
    import datasets

    owner, name = repo_id.split("/")
    assert local.name == name, "the library names the cached files after the dataset: use a directory named NAME"
    target = hf_cache / f"{owner}___{name}" / config / "0.0.0" / revision
    builder = datasets.load_dataset_builder(str(local), cache_dir=str(hf_cache.parent / "local-build"))
    builder.download_and_prepare(output_dir=str(target))
    return target
