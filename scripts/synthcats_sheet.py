"""Draw the SynthCats contact sheet: one row per breed (and one of "other" pictures).

    python scripts/synthcats_sheet.py [--size 64] [--columns 10] [--zoom 2] [--out docs/synthcats_sheet.png]

The pictures are the first of each breed in the SynthCats ``train`` split (seed 0), exactly what
the trainers see.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cats.breeds import CLASSIFIER_LABELS, NUM_BREEDS, OTHER_ID  # noqa: E402
from cats.data.synthcats import draw  # noqa: E402

LABEL_WIDTH = 150


def contact_sheet(size: int = 64, columns: int = 10, zoom: int = 2, seed: int = 0, other: bool = True) -> Image.Image:
    """Rows of ``columns`` pictures per class, with the class name on the left."""
    labels = list(range(NUM_BREEDS)) + ([OTHER_ID] if other else [])
    cell = size * zoom
    sheet = Image.new("RGB", (LABEL_WIDTH + columns * cell, len(labels) * cell), (255, 255, 255))
    pen = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=15)
    for row, label in enumerate(labels):
        pen.text((8, row * cell + cell // 2 - 8), CLASSIFIER_LABELS[label], fill=(0, 0, 0), font=font)
        for col in range(columns):
            # picture index as in the split: cats are interleaved by label, others numbered from 0
            index = col * NUM_BREEDS + label if label != OTHER_ID else col
            img = Image.fromarray(draw(label, size, seed, "train", index)).resize((cell, cell), Image.NEAREST)
            sheet.paste(img, (LABEL_WIDTH + col * cell, row * cell))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64, help="picture side in pixels (32..256)")
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--zoom", type=int, default=2, help="nearest-neighbour enlargement for viewing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/synthcats_sheet.png"))
    args = parser.parse_args()
    if not 32 <= args.size <= 256:
        parser.error(f"--size must be from 32 to 256, got {args.size}")
    sheet = contact_sheet(args.size, args.columns, args.zoom, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
