"""What the demo draws: result figures, the classifier's verdict, download names and share links.

Pure formatting (no Gradio, no model): HTML strings and file names from images and settings.

The model draws 32-64 px images. They are shown at a whole multiple of their size with *crisp*
upscaling (``image-rendering: pixelated``): every model pixel becomes a clean square, so what a
visitor sees is exactly what the model made — smooth (bilinear) upscaling would blur a 64 px cat
into a soft blob and hide both its detail and its artefacts. One image is drawn at 384 px, several
at 192 px in a grid that wraps (two columns fit a phone), so no result is cut off at either width.
"""

from __future__ import annotations

import base64
import html
import io
import math
from urllib.parse import urlencode

from PIL import Image

from cats.breeds import OTHER_LABEL, breed_id
from cats.classify import UNFAMILIAR, UNSURE

ONE_SIZE, GRID_SIZE = 384, 192  # display side in CSS pixels: one image, several images
PREVIEWS = 4  # at most this many streamed previews per generation (each costs Gradio a round trip)

# The headline for a verdict that is not a breed; the breed bars are then only the closest match.
HEADLINES = {UNFAMILIAR: "This doesn't look like a cat drawing I know", OTHER_LABEL: "Not a cat breed I know",
             UNSURE: "Not sure"}
EXPLAIN = {UNFAMILIAR: "It is unlike the pictures these weights learned from.",
           OTHER_LABEL: "It looks most like none of the 12 breeds.",
           UNSURE: "No breed is clearly ahead of the others."}


def data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figures(items: list[tuple[Image.Image, str]], note: str = "", size: int | None = None) -> str:
    """Images with captions as inline HTML (no file in Gradio's cache), each whole at a fixed size."""
    side = size or (ONE_SIZE if len(items) == 1 else GRID_SIZE)
    cells = "".join(
        f'<figure><img src="{data_url(img)}" alt="{html.escape(caption)}" width="{side}" height="{side}" '
        f'style="width:{side}px"><figcaption>{html.escape(caption)}</figcaption></figure>'
        for img, caption in items)
    head = f'<p class="result-note">{html.escape(note)}</p>' if note else ""
    return f'<div class="result">{head}<div class="result-grid">{cells}</div></div>'


def preview(noisy: list[Image.Image], clean: list[Image.Image], step: int, steps: int) -> str:
    """The denoising preview of a run in progress: the noisy image and the model's guess of the clean one."""
    items = []
    for i, (a, b) in enumerate(zip(noisy, clean)):
        n = f" #{i + 1}" if len(noisy) > 1 else ""
        items += [(a, f"noisy{n}"), (b, f"clean guess{n}")]
    return figures(items, f"Drawing… step {step}/{steps}", size=GRID_SIZE if len(noisy) == 1 else 96)


def preview_steps(steps: int) -> set[int]:
    """Step indices (from 0) that stream a preview: every k-th, at most PREVIEWS, never the last.

    The last step's images are the result.
    """
    k = math.ceil(steps / PREVIEWS)
    return {i for i in range(steps - 1) if (i + 1) % k == 0}


def verdict_html(result) -> str:
    """The classifier's answer: one headline, then the top breeds as bars.

    A breed verdict is the headline with green bars. An unfamiliar, other or unsure verdict is the
    headline itself, and the bars are grey under "closest match — not reliable": never a full green
    bar under a picture that is not a cat the weights know.
    """
    reliable = result.verdict not in HEADLINES
    if reliable:
        headline, line = result.verdict, f"{100 * result.top_k[0][1]:.0f}% sure."
    else:
        headline, line = HEADLINES[result.verdict], EXPLAIN[result.verdict]
    rows = "".join(
        f'<div class="bar-row"><span class="bar-name">{html.escape(_label(name))}</span>'
        f'<span class="bar"><span style="width:{100 * p:.1f}%"></span></span>'
        f'<span class="bar-p">{100 * p:.0f}%</span></div>' for name, p in result.top_k)
    title = "Top breeds" if reliable else "Closest match — not reliable"
    kind = "reliable" if reliable else "unreliable"
    return (f'<div class="verdict {kind}" data-verdict="{html.escape(result.verdict)}">'
            f'<h2 class="verdict-headline">{html.escape(headline)}</h2><p>{html.escape(line)}</p>'
            f'<p class="bars-title">{title}</p><div class="bars">{rows}</div></div>')


def _label(name: str) -> str:
    return "not one of the 12 breeds" if name == OTHER_LABEL else name


# ---- names shared with the web client -----------------------------------------------------------

def subject(breed: str | None = None, blend: dict[str, float] | None = None, restyle: str | None = None) -> str:
    """A download name's subject: ``British-Shorthair``, ``Siamese50-Persian50`` or ``restyle-Bengal``."""
    if restyle is not None:
        return f"restyle-{restyle.replace(' ', '-')}"
    if blend is not None:  # in breed-id order, zero weights left out: the web client names a blend the same way
        total = sum(blend.values())
        parts = sorted((breed_id(name), name, w) for name, w in blend.items() if w > 0)
        return "-".join(f"{name.replace(' ', '-')}{round(100 * w / total)}" for _, name, w in parts)
    return breed.replace(" ", "-")


def download_names(what: str, seed: int, mode: str, count: int) -> list[str]:
    """``tiny-cats_<subject>_seed<seed>_<mode>.png``, with ``_<k>`` (from 1) when one run makes several."""
    stem = f"tiny-cats_{what}_seed{seed}_{mode}"
    return [f"{stem}.png"] if count == 1 else [f"{stem}_{k}.png" for k in range(1, count + 1)]


def guidance_text(guidance: float | None, guide: float | None) -> str:
    """How a picture was guided: "guidance 2, guide 2", "guidance 2, guide off" (guide 1) or "guidance 2".

    guidance None: fast mode, whose guidance is built in. guide None: the weights have no guide network.
    """
    if guidance is None:
        return "guidance built into fast mode"
    if guide is None:
        return f"guidance {guidance:g}"
    return f"guidance {guidance:g}, " + ("guide off" if guide == 1 else f"guide {guide:g}")


def share_query(seed: int, mode: str, steps: int, guidance: float | None, breed: str | None = None,
                blend: dict[str, float] | None = None, guide: float | None = None) -> str:
    """The query string of a link that reopens these settings (read back by share.read_query).

    guide: the autoguidance scale, None when the weights have no guide (quality mode only, as guidance).
    """
    params: dict[str, str] = {}
    if blend is not None:
        total = sum(blend.values())
        params["blend"] = ",".join(f"{name}:{w / total:.4g}" for name, w in blend.items())
    else:
        params["breed"] = breed
    params |= {"seed": str(seed), "mode": mode, "steps": str(steps)}
    if mode != "fast" and guidance is not None:
        params["guidance"] = f"{guidance:g}"
        if guide is not None:
            params["guide"] = f"{guide:g}"
    return "?" + urlencode(params)
