"""Dominant colours of an image, in plain words a listener understands.

Pixels are clustered (k-means in CIELAB, where distances follow perceived difference) and each cluster is
named by the nearest colour of a small palette of CSS/X11 names chosen to be plain spoken English.
Transparent pixels are ignored, so a cut-out on a transparent background is described by the object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# CSS/X11 colours, each with the plain word we say for it (a word may have several reference colours).
PALETTE: list[tuple[str, tuple[int, int, int]]] = [
    ("black", (0, 0, 0)),
    ("dark grey", (64, 64, 64)),
    ("grey", (128, 128, 128)),
    ("silver", (192, 192, 192)),
    ("white", (255, 255, 255)),
    ("dark red", (139, 0, 0)),
    ("red", (220, 20, 60)),
    ("pink", (255, 182, 193)),
    ("hot pink", (255, 105, 180)),
    ("orange", (255, 140, 0)),
    ("brown", (139, 69, 19)),
    ("tan", (210, 180, 140)),
    ("beige", (245, 245, 220)),
    ("gold", (255, 215, 0)),
    ("yellow", (255, 255, 0)),
    ("olive", (128, 128, 0)),
    ("light green", (144, 238, 144)),
    ("green", (34, 139, 34)),
    ("dark green", (0, 100, 0)),
    ("teal", (0, 128, 128)),
    ("turquoise", (64, 224, 208)),
    ("sky blue", (135, 206, 235)),
    ("blue", (0, 0, 255)),  # CSS blue
    ("blue", (65, 105, 225)),  # CSS royalblue: most blues people call "blue" sit between the two
    ("navy", (0, 0, 128)),
    ("purple", (128, 0, 128)),
    ("violet", (238, 130, 238)),
    ("magenta", (255, 0, 255)),
]


@dataclass(frozen=True)
class ColourShare:
    name: str
    share: float  # fraction of the (opaque) pixels
    rgb: tuple[int, int, int]


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in 0–255, shape (..., 3) → CIELAB (D65), shape (..., 3)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    matrix = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


_NAMES = [name for name, _ in PALETTE]
_PALETTE_LAB = srgb_to_lab(np.array([rgb for _, rgb in PALETTE]))


def name_of(rgb: tuple[int, int, int] | np.ndarray) -> str:
    """The palette word nearest to a colour (CIELAB distance)."""
    distances = np.linalg.norm(_PALETTE_LAB - srgb_to_lab(np.asarray(rgb))[None], axis=1)
    return _NAMES[int(np.argmin(distances))]


def _small_rgba(image: Image.Image, side: int) -> np.ndarray:
    small = image.convert("RGBA") if image.mode != "RGBA" else image.copy()
    small.thumbnail((side, side))
    return np.asarray(small).reshape(-1, 4)


def _opaque_pixels(image: Image.Image, side: int) -> np.ndarray:
    pixels = _small_rgba(image, side)
    return pixels[pixels[:, 3] >= 128][:, :3]


def _kmeans(points: np.ndarray, k: int, iterations: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Plain k-means with k-means++ seeding; deterministic for a given seed. Vectorised (distances by one
    broadcast, means by ``bincount``): this runs once per image of the collection."""
    rng = np.random.default_rng(seed)
    centres = points[[rng.integers(len(points))]]
    nearest = np.sum((points - centres[0]) ** 2, axis=1)
    for _ in range(1, k):
        if nearest.sum() == 0:
            break
        chosen = points[rng.choice(len(points), p=nearest / nearest.sum())]
        centres = np.vstack([centres, chosen])
        nearest = np.minimum(nearest, np.sum((points - chosen) ** 2, axis=1))
    labels = _assign(points, centres)
    for _ in range(iterations):
        counts = np.bincount(labels, minlength=len(centres))
        sums = np.stack([np.bincount(labels, weights=points[:, c], minlength=len(centres)) for c in range(3)], 1)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        if np.allclose(moved, centres):
            break
        centres = moved
        labels = _assign(points, centres)
    return centres, labels


def _assign(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)


def _distinct_colours(rgb: np.ndarray) -> int:
    packed = (rgb[:, 0].astype(np.int32) << 16) | (rgb[:, 1].astype(np.int32) << 8) | rgb[:, 2].astype(np.int32)
    return len(np.unique(packed))


def dominant_colours(image: Image.Image, k: int = 5, min_share: float = 0.1, side: int = 64) -> list[ColourShare]:
    """Named colours covering at least ``min_share`` of the opaque pixels, most common first."""
    return _name_clusters(_opaque_pixels(image, side), k, min_share)


def _name_clusters(rgb: np.ndarray, k: int, min_share: float) -> list[ColourShare]:
    if len(rgb) == 0:
        return []
    lab = srgb_to_lab(rgb)
    _, labels = _kmeans(lab, min(k, _distinct_colours(rgb)))
    shares: dict[str, list] = {}
    for cluster in np.unique(labels):
        members = rgb[labels == cluster]
        mean_rgb = members.mean(0)
        name = name_of(mean_rgb)
        entry = shares.setdefault(name, [0, np.zeros(3)])
        entry[0] += len(members)
        entry[1] += mean_rgb * len(members)
    total = len(rgb)
    found = [
        ColourShare(name, count / total, tuple(int(v) for v in (weighted / count).round()))
        for name, (count, weighted) in shares.items()
    ]
    found.sort(key=lambda c: -c.share)
    return [c for c in found if c.share >= min_share]


@dataclass(frozen=True)
class Appearance:
    """What the pixels say, measured once on a small copy of the image."""

    colours: list[ColourShare]
    lightness: float | None  # mean CIELAB L* (0 black … 100 white) of the opaque pixels; None if none
    chroma: float | None  # mean CIELAB chroma; below ~6 the picture reads as black and white
    transparent: float  # share of pixels that are (mostly) transparent

    @property
    def light(self) -> str:
        """ "very dark", "dark", "medium", "bright" or "very bright"."""
        if self.lightness is None:
            return "medium"
        for upper, word in ((15, "very dark"), (35, "dark"), (65, "medium"), (85, "bright")):
            if self.lightness < upper:
                return word
        return "very bright"

    @property
    def black_and_white(self) -> bool:
        return self.chroma is not None and self.chroma < GREY_CHROMA


GREY_CHROMA = 6.0


def appearance(image: Image.Image, k: int = 5, min_share: float = 0.1, side: int = 64) -> Appearance:
    pixels = _small_rgba(image, side)
    opaque = pixels[pixels[:, 3] >= 128][:, :3]
    transparent = float(np.mean(pixels[:, 3] < 128)) if len(pixels) else 0.0
    if len(opaque) == 0:
        return Appearance([], None, None, transparent)
    lab = srgb_to_lab(opaque)
    return Appearance(
        colours=_name_clusters(opaque, k, min_share),
        lightness=float(lab[:, 0].mean()),
        chroma=float(np.hypot(lab[:, 1], lab[:, 2]).mean()),
        transparent=transparent,
    )
