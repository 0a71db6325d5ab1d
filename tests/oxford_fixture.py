"""A miniature Oxford-IIIT Pet laid out exactly like the real archives (for the parser and cache tests).

Real layout: ``images/<Name>_<n>.jpg``; ``annotations/list.txt`` with '#' header lines then
"Image CLASS-ID SPECIES BREED-ID"; ``annotations/trainval.txt`` and ``test.txt`` with the same
columns; ``annotations/xmls/<name>.xml`` (Pascal VOC, head box) for some trainval images.
Cat names start with a capital letter, dog names do not. The real CLASS-IDs are used.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

# (Oxford stem, CLASS-ID, species, BREED-ID); species 1 = cat, 2 = dog
BREEDS = (
    ("Abyssinian", 1, 1, 1),
    ("Bengal", 6, 1, 2),
    ("British_Shorthair", 10, 1, 4),
    ("Siamese", 33, 1, 11),
    ("beagle", 4, 2, 3),
)
TRAINVAL_PER_BREED = 5  # -> with val_fraction 0.2: 1 val + 4 train per class
TEST_PER_BREED = 2
CORRUPT = "Bengal_3"  # a trainval image whose file is not a JPEG
NO_XML = ("Siamese_1",)  # trainval images without a head annotation

HEADER = """#Image CLASS-ID SPECIES BREED ID
#ID: 1:37 Class ids
#SPECIES: 1:Cat 2:Dog
#BREED ID: 1-25:Cat 1:12:Dog
#All images with 1st letter as captial are cat images
#images with small first letter are dog images
"""

XML = """<annotation><folder>OXIIIT</folder><filename>{name}.jpg</filename>
<size><width>{w}</width><height>{h}</height><depth>3</depth></size><segmented>0</segmented>
<object><name>{species}</name><pose>Frontal</pose><truncated>0</truncated><occluded>0</occluded>
<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox><difficult>0</difficult></object>
</annotation>
"""

# The head box of every annotated image, in the image's own pixels (images are 48 x 32).
IMAGE_W, IMAGE_H = 48, 32
HEAD = (30, 4, 44, 18)  # a red square drawn on a blue photo: the head crop must be mostly red
HEAD_COLOUR, BODY_COLOUR = (220, 30, 30), (30, 60, 200)


def _jpeg(rng: np.random.Generator) -> bytes:
    img = np.empty((IMAGE_H, IMAGE_W, 3), np.uint8)
    img[:] = BODY_COLOUR
    img += rng.integers(0, 12, img.shape, dtype=np.uint8)
    x0, y0, x1, y1 = HEAD
    img[y0:y1, x0:x1] = HEAD_COLOUR
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def names(split: str) -> list[tuple[str, int, int, int]]:
    """(image name, CLASS-ID, species, BREED-ID) of one official split."""
    rows = []
    for stem, class_id, species, breed_id in BREEDS:
        numbers = range(1, TRAINVAL_PER_BREED + 1) if split == "trainval" else \
            range(100, 100 + TEST_PER_BREED)
        rows += [(f"{stem}_{n}", class_id, species, breed_id) for n in numbers]
    return rows


def build(directory: Path) -> Path:
    """Write the miniature dataset into ``directory`` (``images/``, ``annotations/``); returns it."""
    rng = np.random.default_rng(0)
    (directory / "images").mkdir(parents=True, exist_ok=True)
    (directory / "annotations" / "xmls").mkdir(parents=True, exist_ok=True)
    trainval, test = names("trainval"), names("test")
    for name, _, _species, _ in trainval + test:
        data = b"this is not a jpeg" if name == CORRUPT else _jpeg(rng)
        (directory / "images" / f"{name}.jpg").write_bytes(data)
    for name, _, species, _ in trainval:
        if name not in NO_XML:
            x0, y0, x1, y1 = HEAD
            (directory / "annotations" / "xmls" / f"{name}.xml").write_text(XML.format(
                name=name, w=IMAGE_W, h=IMAGE_H, species="cat" if species == 1 else "dog", x0=x0, y0=y0, x1=x1, y1=y1))

    def lines(rows):
        return "".join(f"{n} {c} {s} {b}\n" for n, c, s, b in rows)

    (directory / "annotations" / "list.txt").write_text(HEADER + lines(sorted(trainval + test)))
    (directory / "annotations" / "trainval.txt").write_text(lines(trainval))
    (directory / "annotations" / "test.txt").write_text(lines(test))
    return directory


def build_archives(source: Path, out: Path) -> dict[str, Path]:
    """Pack a built dataset like the real downloads: images.tar.gz (images/...), annotations.tar.gz."""
    out.mkdir(parents=True, exist_ok=True)
    archives = {}
    for top in ("images", "annotations"):
        path = out / f"{top}.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            tar.add(source / top, arcname=top)
        archives[top] = path
    return archives
