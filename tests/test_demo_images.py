"""Big uploads: one size limit (the longer side; Pillow's guard set to match), checked from the header, and a bounded decode."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cats.images import MAX_PIXELS, MAX_SIDE, WORKING_SIDE, ImageInputError, load_image

ROOT = Path(__file__).resolve().parents[1]


def test_pillow_limit_is_what_the_side_limit_allows():
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS == MAX_SIDE**2


@pytest.mark.parametrize("size", [(8001, 10), (9000, 8000), (10000, 9000), (12000, 12000), (64_000_000, 1)])
def test_one_message_states_one_limit(tmp_path, size):
    # a side of 8001 is over our limit only; 72 MP too; 90 MP was over Pillow's default warning limit
    # (89,478,485) too; 144 MP over twice Pillow's default, its hard error; the 1 x 64,000,000 strip
    # has few enough pixels for any pixel limit but one 64-million-pixel row. All get one message.
    path = tmp_path / "huge.png"
    Image.new("1", size).save(path)
    with pytest.raises(ImageInputError) as info:
        load_image(path)
    message = str(info.value)
    assert "over the limit of 8,000 pixels on the longer side" in message
    numbers = {n.replace(",", "") for n in re.findall(r"\d[\d,]{3,}", message)}
    assert numbers <= {str(MAX_SIDE), str(size[0]), str(size[1]), str(size[0] * size[1])}, message
    assert "89478485" not in message and "64000000 pixels" not in message and "decompression" not in message.lower()


def test_size_is_refused_before_any_pixel_is_decoded(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("L", (9000, 8000)).save(path)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)
    with pytest.raises(ImageInputError, match="over the limit"):
        load_image(path)
    assert decoded == []


def test_orientation_survives_the_reduced_decode(tmp_path):
    """A big photo stored sideways (EXIF orientation 6) comes out upright, downscaled."""
    arr = np.zeros((2400, 3600, 3), np.uint8)
    arr[:, :1800] = (255, 0, 0)  # left half red as stored; rotated 90° clockwise it is the top half
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6
    for fmt, name in (("PNG", "sideways.png"), ("JPEG", "sideways.jpg")):
        img.save(tmp_path / name, format=fmt, exif=exif.tobytes())
        out = np.asarray(load_image(tmp_path / name), dtype=np.int16)
        assert out.shape[0] == WORKING_SIDE and out.shape[1] < WORKING_SIDE, (fmt, out.shape)  # portrait
        top, bottom = out[: out.shape[0] // 4].mean(axis=(0, 1)), out[-out.shape[0] // 4:].mean(axis=(0, 1))
        assert top[0] > 200 and bottom[0] < 50, (fmt, top, bottom)


PEAK = textwrap.dedent("""
    import sys
    from cats.images import load_image

    def status(key):  # kB, from the kernel's accounting of this process
        line = next(l for l in open("/proc/self/status") if l.startswith(key + ":"))
        return int(line.split()[1])

    open("/proc/self/clear_refs", "w").write("5")  # peak RSS := current RSS
    before = status("VmRSS")
    img = load_image(sys.argv[1])
    assert max(img.size) == 1024, img.size
    print((status("VmHWM") - before) / 1024)
""")


@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(),
                    reason="peak memory is reset and read through /proc/self (Linux only); CI runs on Linux")
@pytest.mark.parametrize("mode,budget_mb", [("1", 160), ("L", 160), ("RGB", 330)])
def test_the_largest_allowed_png_costs_bounded_memory(tmp_path, mode, budget_mb):
    """MAX_SIDE x MAX_SIDE (64 MP, the worst the limit accepts): a plain decode peaks near 300 MB (mode 1) / 480 MB (RGB).

    Now the image is box-reduced in its own mode before the RGB conversion: about the decoded
    buffer itself (62 MB at 1 byte per pixel, 250 MB at Pillow's 4 bytes per RGB pixel) plus a little.
    """
    path = tmp_path / f"big_{mode}.png"
    Image.new(mode, (MAX_SIDE, MAX_SIDE), 1 if mode == "1" else (128 if mode == "L" else (200, 100, 50))).save(path)
    out = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    peak = float(out.stdout.strip())
    assert peak < budget_mb, f"peak +{peak:.0f} MB decoding a {MAX_SIDE}x{MAX_SIDE} {mode} PNG"


def test_the_limit_is_worded_as_the_web_client_words_it():
    from cats.images import too_many_pixels

    # webclient/tests/unit/decode.test.ts pins the same sentence for the browser.
    assert too_many_pixels("cat.jpg", None, (9000, 8000)) == (
        "cat.jpg is 9000x8000 pixels, over the limit of 8,000 pixels on the longer side: resize it before uploading")
