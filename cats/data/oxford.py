"""Oxford-IIIT Pet: download (resumable, checksummed), parse the official lists, preprocess once.

Layout under ``root/oxford-iiit-pet`` (the archives' own layout, as torchvision uses it)::

    images/<Name>_<n>.jpg                      cats start with a capital letter, dogs do not
    annotations/list.txt                       "Image CLASS-ID SPECIES BREED-ID", species 1 = cat, 2 = dog
    annotations/trainval.txt, test.txt         the official split, same columns
    annotations/xmls/<Name>_<n>.xml            head bounding boxes (trainval images only)

``train``/``val`` divide the official trainval list (``val_fraction`` of each class, chosen with
``seed``); ``test`` is the official test list. Cats get our breed ids (by name, through
``cats.breeds.OXFORD_NAMES``); dogs become label 12 "other" only with ``include_other``.
Each (split, size, crop, include_other, seed) is decoded once into ``cache/*.npz``.

When ``download=True`` and the official archives cannot be fetched, the Hub mirror
``hf:timm/oxford-iiit-pet`` (``cats.data.hub``; the same photos, 37 labels and official
trainval/test split as parquet) is used instead, with a warning saying so; ``--data
hf:timm/oxford-iiit-pet`` uses the mirror directly. It gives the same labels and split sizes.

Command line (on a machine with internet): ``python -m cats.data.oxford download [--root DIR]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tarfile
import tempfile
import urllib.request
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cats.breeds import OTHER_ID, OXFORD_NAMES
from cats.data import hub
from cats.data.cache import cache_key, class_names_for, default_root, load_arrays, save_arrays
from cats.data.dataset import ArrayDataset
from cats.data.decode import decode_all
from cats.data.hub import OXFORD_MIRROR
from cats.files import md5sum

DIRNAME = "oxford-iiit-pet"
CROPS = ("center", "head")
SOCKET_TIMEOUT = 60.0  # seconds without a byte from the server before a download counts as failed
CAT, DOG = 1, 2


@dataclass(frozen=True)
class Resource:
    url: str
    filename: str
    md5: str


RESOURCES = (  # torchvision's OxfordIIITPet URLs and checksums
    Resource("https://thor.robots.ox.ac.uk/pets/images.tar.gz", "images.tar.gz", "5c4f3ee8e5d25df40f4fd59a7f44e54c"),
    Resource("https://thor.robots.ox.ac.uk/pets/annotations.tar.gz", "annotations.tar.gz",
             "95a8c909bbe2e81eed6a22bccdf3f68f"),
)


# ----------------------------------------------------------------------------------------------
# Download


def _fetch(url: str, part: Path, opener, chunk: int) -> None:
    """Append the rest of ``url`` to ``part``, asking the server to resume where the file ends."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    with opener(request) as response:
        status = getattr(response, "status", None) or getattr(response, "code", None)
        mode = "ab" if offset and status == 206 else "wb"  # a server that ignores Range sends it all again
        with open(part, mode) as f:
            while block := response.read(chunk):
                f.write(block)


def _urlopen(request):
    # a dead server then fails in a minute instead of hanging, so the Hub mirror can take over
    return urllib.request.urlopen(request, timeout=SOCKET_TIMEOUT)


def download_file(resource: Resource, directory: Path, opener=_urlopen, chunk: int = 1 << 20) -> Path:
    """Download one archive into ``directory``: resumable (``.part``), verified, renamed atomically.

    Skipped (no network) when the archive is there and its verified checksum was recorded. A
    checksum mismatch deletes the partial file and raises, so the next try starts clean.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / resource.filename
    marker = directory / (resource.filename + ".md5")
    if target.is_file() and marker.is_file() and marker.read_text().split() == [resource.md5, str(target.stat().st_size)]:
        return target
    if target.is_file() and md5sum(target) == resource.md5:  # verified earlier but the marker was lost
        marker.write_text(f"{resource.md5} {target.stat().st_size}\n")
        return target
    part = directory / (resource.filename + ".part")
    _fetch(resource.url, part, opener, chunk)
    got = md5sum(part)
    if got != resource.md5:
        part.unlink()
        raise OSError(f"checksum mismatch for {resource.url}: got md5 {got}, expected {resource.md5}; "
                      "the partial download was deleted, run again to retry")
    os.replace(part, target)
    marker.write_text(f"{resource.md5} {target.stat().st_size}\n")
    return target


def _extract(archive: Path, directory: Path, top: str) -> None:
    """Unpack ``archive`` (holding ``top/``) into ``directory`` via a temporary folder, then rename."""
    if (directory / top).is_dir() and (directory / f".{top}.extracted").is_file():
        return
    tmp = Path(tempfile.mkdtemp(dir=directory, prefix=f".{top}-"))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        if not (tmp / top).is_dir():
            raise OSError(f"{archive} does not contain a {top}/ folder")
        if (directory / top).exists():
            shutil.rmtree(directory / top)
        os.replace(tmp / top, directory / top)
        (directory / f".{top}.extracted").write_text(archive.name + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download_archives(root: Path | None = None, resources=RESOURCES, opener=_urlopen) -> Path:
    """Fetch, verify and unpack Oxford-IIIT Pet into ``root/oxford-iiit-pet``; returns that folder."""
    directory = (Path(root) if root is not None else default_root()) / DIRNAME
    for resource in resources:
        archive = download_file(resource, directory, opener)
        _extract(archive, directory, resource.filename.split(".")[0])
    return directory


# ----------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class Entry:
    name: str        # file stem, e.g. "British_Shorthair_12"
    class_id: int    # Oxford CLASS-ID 1..37
    species: int     # 1 = cat, 2 = dog
    breed: str       # Oxford breed stem, e.g. "British_Shorthair"


def parse_list(path: Path) -> list[Entry]:
    """Read list.txt / trainval.txt / test.txt ("Image CLASS-ID SPECIES BREED-ID"; '#' lines are comments)."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 3 or not fields[1].isdigit() or fields[2] not in ("1", "2"):
            raise ValueError(f"{path}:{number}: expected 'Image CLASS-ID SPECIES BREED-ID', got {line!r}")
        entries.append(Entry(fields[0], int(fields[1]), int(fields[2]), fields[0].rsplit("_", 1)[0]))
    return entries


def head_box(xml_path: Path) -> tuple[tuple[float, float, float, float], tuple[int, int]] | None:
    """The head box (xmin, ymin, xmax, ymax) and the (width, height) it refers to, or None if absent."""
    if not xml_path.is_file():
        return None
    try:
        root = ET.parse(xml_path).getroot()
        box = root.find("object/bndbox")
        size = root.find("size")
        coords = tuple(float(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
        frame = (int(size.find("width").text), int(size.find("height").text))
    except (ET.ParseError, AttributeError, TypeError, ValueError):
        return None  # a broken annotation: fall back to the centre crop
    if coords[2] <= coords[0] or coords[3] <= coords[1] or min(frame) <= 0:
        return None
    return coords, frame


def label_of(entry: Entry, include_other: bool) -> int | None:
    """Our label for an entry: breed id for a cat, 12 for a dog when wanted, else None (left out)."""
    if entry.species == CAT:
        if entry.breed not in OXFORD_NAMES:
            raise ValueError(f"{entry.name}: cat breed {entry.breed!r} is not one of {', '.join(OXFORD_NAMES)}")
        return OXFORD_NAMES.index(entry.breed)
    return OTHER_ID if include_other else None


def split_entries(directory: Path, split: str, seed: int, val_fraction: float) -> list[Entry]:
    """The entries of ``split``: official test, or trainval divided per class into train / val."""
    ann = directory / "annotations"
    if split == "test":
        return parse_list(ann / "test.txt")
    species = {e.name: e.species for e in parse_list(ann / "list.txt")} if (ann / "list.txt").is_file() else {}
    trainval = [Entry(e.name, e.class_id, species.get(e.name, e.species), e.breed)
                for e in parse_list(ann / "trainval.txt")]
    chosen = []
    for class_id in sorted({e.class_id for e in trainval}):
        members = sorted((e for e in trainval if e.class_id == class_id), key=lambda e: e.name)
        order = np.random.default_rng([seed, class_id]).permutation(len(members))
        n_val = round(val_fraction * len(members))
        if len(members) >= 2 and val_fraction > 0:
            n_val = min(max(n_val, 1), len(members) - 1)  # every class in both parts
        picked = order[:n_val] if split == "val" else order[n_val:]
        chosen += [members[i] for i in sorted(picked)]
    return chosen


def _missing(directory: Path) -> list[str]:
    needed = [directory / "images", directory / "annotations" / "trainval.txt", directory / "annotations" / "test.txt"]
    return [str(p) for p in needed if not p.exists()]


def _require_layout(directory: Path) -> None:
    missing = _missing(directory)
    if missing:
        raise FileNotFoundError(
            f"Oxford-IIIT Pet is not under {directory} (missing {', '.join(missing)}). Download it with "
            f"load_dataset('oxford', download=True, root=...) or `python -m cats.data.oxford download --root "
            f"{directory.parent}` on a machine with internet (about 800 MB), or read the Hub mirror with --data "
            f"hf:{OXFORD_MIRROR}.")


def _from_mirror(error: BaseException, split: str, image_size: int, root: Path, include_other: bool, seed: int,
                 crop: str, val_fraction: float) -> ArrayDataset:
    """The split from the Hub mirror, after the official download failed with ``error``."""
    if crop != "center":
        raise OSError(f"downloading Oxford-IIIT Pet failed ({error}); the Hub mirror hf:{OXFORD_MIRROR} has no head "
                      f"boxes, so crop={crop!r} needs the official archive: try again later, or use crop='center'"
                      ) from error
    warnings.warn(f"the official Oxford-IIIT Pet archive could not be downloaded ({error}); using the Hub mirror "
                  f"hf:{OXFORD_MIRROR} instead (same photos, labels and official test split; --data "
                  f"hf:{OXFORD_MIRROR} uses it directly)", stacklevel=3)
    try:
        return hub.load(f"hf:{OXFORD_MIRROR}", split, image_size, root, include_other=include_other, seed=seed,
                        val_fraction=val_fraction)
    except hub.HubError as exc:
        raise OSError(f"Oxford-IIIT Pet: the official download failed ({error}), and so did the Hub mirror "
                      f"hf:{OXFORD_MIRROR} ({exc})") from exc


def load(split: str, image_size: int, root: Path, include_other: bool = False, seed: int = 0,
         download: bool = False, crop: str = "center", val_fraction: float = 0.1) -> ArrayDataset:
    """The Oxford-IIIT Pet split as an ``ArrayDataset``, decoded once into a cache (see the module docstring)."""
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}: valid crops are {', '.join(CROPS)}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    directory = Path(root) / DIRNAME
    if download and _missing(directory):  # already unpacked (by us, torchvision or by hand): no network
        try:
            download_archives(root)
        except (OSError, tarfile.TarError) as exc:  # server down, dropped connection, bad checksum or archive
            return _from_mirror(exc, split, image_size, root, include_other, seed, crop, val_fraction)
    _require_layout(directory)

    key = cache_key(split=split, size=image_size, crop=crop, other=include_other, seed=seed, val=val_fraction)
    path = directory / "cache" / f"oxford-{split}-{image_size}px-{crop}-{key}.npz"
    arrays = load_arrays(path, ("images", "labels", "skipped"))
    if arrays is None:
        items = []
        for entry in split_entries(directory, split, seed, val_fraction):
            label = label_of(entry, include_other)
            if label is None:
                continue
            box = head_box(directory / "annotations" / "xmls" / f"{entry.name}.xml") if crop == "head" else None
            items.append((directory / "images" / f"{entry.name}.jpg", label, *(box or (None, None))))
        images, labels, skipped = decode_all(items, image_size, f"oxford {split}")
        arrays = {"images": images, "labels": labels, "skipped": np.array(len(skipped))}
        save_arrays(path, **arrays)
    return ArrayDataset(arrays["images"], arrays["labels"], class_names_for(include_other), source="oxford",
                        split=split, skipped=int(arrays["skipped"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cats.data.oxford", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("download", help="fetch, verify and unpack the archives")
    get.add_argument("--root", type=Path, default=None, help="cache root (default $TINY_CATS_CACHE or ~/.cache/tiny-cats)")
    args = parser.parse_args(argv)
    print(f"Oxford-IIIT Pet ready in {download_archives(args.root)}")


if __name__ == "__main__":
    main()
