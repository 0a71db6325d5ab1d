"""What each SynthCats breed looks like: one ``Look`` per breed, in ``cats.breeds.BREEDS`` order.

The cues follow the real breed standards, exaggerated so they survive at 32-64 px: coat colour
and pattern carry most of the signal (big regions a small generator learns first), then eye
colour, ear size/shape, head shape and fur length.
"""

from __future__ import annotations

from dataclasses import dataclass

from cats.breeds import BREEDS

RGB = tuple[int, int, int]

# Eye colours.
COPPER: RGB = (214, 118, 28)
GOLD: RGB = (222, 176, 40)
GREEN: RGB = (92, 178, 64)
GOOSEBERRY: RGB = (150, 200, 70)
BLUE: RGB = (70, 140, 235)
PINK_NOSE: RGB = (214, 120, 130)


@dataclass(frozen=True)
class Look:
    """Drawing parameters of one breed. Lengths are in units of the head radius."""

    coats: tuple[RGB, ...]                # base coat colours (one is picked per image, then jittered)
    pattern: str = "solid"                # solid | ticked | rosettes | spots | tabby | wrinkles
    pattern_colour: RGB = (0, 0, 0)
    points: RGB | None = None             # colour-point colour (face mask, ears, legs, tail)
    white: tuple[str, ...] = ()           # white parts: paws, bib, chin, muzzle_v
    eyes: tuple[RGB, ...] = (GOLD,)
    eye_size: float = 0.20
    eye_round: float = 0.8                # 1 = round, lower = almond
    ear_size: float = 0.85
    ear_width: float = 0.75
    ear_round: bool = False
    ear_tufts: bool = False
    ear_spread: float = 0.55              # base position of the ears along the head top
    head_w: float = 1.0
    head_h: float = 0.9
    wedge: float = 0.2                    # 0 = round jaw, 1 = narrow triangular muzzle
    flat_face: bool = False               # Persian: features pushed together, small nose
    fur: float = 0.2                      # 0 = hairless, 1 = long (fluffy outline, ruff)
    body_w: float = 1.0                   # relative body width (slim < 1 < stocky)
    nose: RGB = PINK_NOSE
    whiskers: bool = True


LOOKS: tuple[Look, ...] = (
    # Abyssinian: ticked warm ruddy coat, large ears, almond green/gold eyes, slim.
    Look(coats=((184, 98, 44), (196, 112, 52), (170, 90, 46)), pattern="ticked", pattern_colour=(70, 36, 18),
         white=("chin",), eyes=(GREEN, GOLD), eye_round=0.6, ear_size=1.2, ear_width=0.85, wedge=0.45,
         fur=0.1, body_w=0.85, nose=(190, 90, 80)),
    # Bengal: golden with dark rosettes.
    Look(coats=((226, 168, 70), (214, 150, 58), (232, 180, 92)), pattern="rosettes", pattern_colour=(52, 32, 18),
         white=("chin",), eyes=(GREEN, GOLD), eye_round=0.7, ear_size=0.8, wedge=0.35, fur=0.1, body_w=1.05),
    # Birman: golden-cream colour-point with white paws ("gloves"), blue eyes, medium-long fur.
    Look(coats=((232, 210, 160), (226, 200, 150)), points=(86, 58, 40), white=("paws",), eyes=(BLUE,),
         eye_round=0.85, ear_size=0.8, wedge=0.15, fur=0.55, body_w=1.05),
    # Bombay: solid jet black, copper eyes, round head.
    Look(coats=((22, 20, 22), (30, 28, 30)), eyes=(COPPER, (230, 140, 30)), eye_size=0.24, eye_round=1.0,
         ear_size=0.8, head_w=1.05, head_h=0.95, wedge=0.05, fur=0.1, nose=(40, 34, 36)),
    # British Shorthair: solid grey-blue, copper eyes, very round head and cheeks, small rounded ears, stocky.
    Look(coats=((112, 122, 138), (104, 114, 130), (120, 128, 142)), eyes=(COPPER, (236, 150, 40)),
         eye_size=0.24, eye_round=1.0, ear_size=0.55, ear_width=0.7, ear_round=True, ear_spread=0.62,
         head_w=1.2, head_h=0.98, wedge=0.0, fur=0.25, body_w=1.3, nose=(90, 96, 112)),
    # Egyptian Mau: silver with dark spots, gooseberry-green eyes.
    Look(coats=((196, 196, 190), (206, 204, 196), (186, 188, 184)), pattern="spots", pattern_colour=(46, 44, 44),
         eyes=(GOOSEBERRY,), eye_round=0.75, ear_size=0.95, wedge=0.3, fur=0.1, body_w=0.95),
    # Maine Coon: brown tabby stripes, big tufted ears, long fur with a ruff, big body.
    Look(coats=((136, 98, 62), (146, 108, 70), (124, 90, 58)), pattern="tabby", pattern_colour=(40, 28, 18),
         white=("chin", "bib"), eyes=(GOLD, GREEN), eye_round=0.8, ear_size=1.15, ear_width=0.8, ear_tufts=True,
         head_w=1.08, wedge=0.25, fur=0.85, body_w=1.3),
    # Persian: long-haired cream/white or orange, flat face, small ears, copper eyes.
    Look(coats=((244, 236, 220), (236, 222, 190), (222, 140, 60), (250, 248, 242)), eyes=(COPPER,),
         eye_size=0.25, eye_round=1.0, ear_size=0.45, ear_width=0.65, ear_round=True, ear_spread=0.66,
         head_w=1.22, head_h=1.0, wedge=0.0, flat_face=True, fur=1.0, body_w=1.25),
    # Ragdoll: white/cream with a grey-brown colour-point, white bib and inverted V, blue eyes, long fur.
    Look(coats=((244, 240, 230), (236, 230, 216)), points=(112, 100, 96), white=("paws", "bib", "muzzle_v"),
         eyes=(BLUE,), eye_size=0.23, eye_round=0.9, ear_size=0.8, head_w=1.1, wedge=0.1, fur=0.8, body_w=1.2),
    # Russian Blue: lighter silver-blue than the British, green eyes, wedge head, large pointed ears.
    Look(coats=((150, 166, 186), (158, 172, 192), (142, 158, 180)), eyes=(GREEN, (70, 190, 90)), eye_round=0.75,
         ear_size=1.15, ear_width=0.8, wedge=0.45, fur=0.15, body_w=0.85, nose=(110, 118, 134)),
    # Siamese: cream body, very dark seal-point mask and ears, slim wedge head, big ears, blue eyes.
    Look(coats=((236, 222, 192), (230, 214, 182)), points=(40, 26, 20), eyes=(BLUE,), eye_round=0.55,
         ear_size=1.3, ear_width=0.9, wedge=0.7, fur=0.05, body_w=0.75, nose=(40, 28, 26)),
    # Sphynx: hairless pink skin with wrinkles, huge ears, no fur, lemon-shaped eyes.
    Look(coats=((232, 176, 160), (224, 166, 152), (238, 188, 170)), pattern="wrinkles", pattern_colour=(176, 112, 104),
         eyes=(GREEN, BLUE, GOLD), eye_size=0.24, eye_round=0.65, ear_size=1.5, ear_width=1.05, ear_spread=0.6,
         wedge=0.4, fur=0.0, body_w=0.85, nose=(200, 120, 120), whiskers=False),
)

if len(LOOKS) != len(BREEDS):
    raise RuntimeError(f"SynthCats needs one Look per breed in BREEDS order: {len(LOOKS)} != {len(BREEDS)}")
