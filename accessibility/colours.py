"""Dominant colours of an image, in plain words a listener understands.

Pixels are clustered (k-means in CIELAB, where distances follow perceived difference) and each cluster is
named by the nearest colour of a small palette of CSS/X11 names chosen to be plain spoken English.
Transparent pixels are ignored, so a cut-out on a transparent background is described by the object.
The colour science is scikit-image's and the clustering scikit-learn's, imported on first use (scikit-learn
takes seconds to import; the see stage imports the describer without reading colours). Both are in the
pipeline's packages, not the server's: the server never describes. bench/colours.py compares them with the
hand-written code they replaced.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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
    """sRGB in 0–255, shape (..., 3) → CIELAB (D65, 2° observer), shape (..., 3)."""
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb, dtype=np.float64) / 255.0)


_NAMES = [name for name, _ in PALETTE]


@functools.cache
def _palette_lab() -> np.ndarray:
    return srgb_to_lab(np.array([rgb for _, rgb in PALETTE]))


def name_of(rgb: tuple[int, int, int] | np.ndarray) -> str:
    """The palette word nearest to a colour (CIELAB distance)."""
    distances = np.linalg.norm(_palette_lab() - srgb_to_lab(np.asarray(rgb))[None], axis=1)
    return _NAMES[int(np.argmin(distances))]


def _small_rgba(image: Image.Image, side: int) -> np.ndarray:
    small = image.convert("RGBA") if image.mode != "RGBA" else image.copy()
    small.thumbnail((side, side))
    return np.asarray(small).reshape(-1, 4)


def _opaque_pixels(image: Image.Image, side: int) -> np.ndarray:
    pixels = _small_rgba(image, side)
    return pixels[pixels[:, 3] >= 128][:, :3]


KMEANS_STARTS = 10


@functools.cache
def _thread_pools():
    """The thread pools loaded so far; made after scikit-learn's import, so they include its OpenMP runtime."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _cluster(points: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """k-means labels of ``points`` (each standing for ``weights`` pixels): the best of ``KMEANS_STARTS``
    k-means++ starts, fixed seed. One start stops in a local optimum that depends on the seed: the hand-written
    k-means this replaced (one start) gave other words with another seed for about half the coco-mini photos;
    the best of ten gives the words of the best of 100 for 94–99 % of them (bench/colours.py). One OpenMP
    thread: on ≤ 4096 points threads cost more than they save (15× slower on a busy two-core machine), and the
    describe stage already runs images in parallel. (The limit holds for the calling thread only.)"""
    from sklearn.cluster import KMeans

    kmeans = KMeans(n_clusters=k, init="k-means++", n_init=KMEANS_STARTS, random_state=0)
    with _thread_pools().limit(limits=1, user_api="openmp"):
        return kmeans.fit(points, sample_weight=weights).labels_


def _labels(rgb: np.ndarray, k: int) -> np.ndarray:
    """The cluster of each pixel: k-means in CIELAB over the distinct colours, each weighted by its pixels (the
    same sums of squares as over every pixel, on fewer points). With k or fewer distinct colours, each is a
    cluster of its own, as k-means would make it."""
    packed = (rgb[:, 0].astype(np.int32) << 16) | (rgb[:, 1].astype(np.int32) << 8) | rgb[:, 2].astype(np.int32)
    _, first, labels, counts = np.unique(packed, return_index=True, return_inverse=True, return_counts=True)
    return labels if len(first) <= k else _cluster(srgb_to_lab(rgb[first]), counts, k)[labels]


def dominant_colours(image: Image.Image, k: int = 5, min_share: float = 0.1, side: int = 64) -> list[ColourShare]:
    """Named colours covering at least ``min_share`` of the opaque pixels, most common first."""
    return _name_clusters(_opaque_pixels(image, side), k, min_share)


def _name_clusters(rgb: np.ndarray, k: int, min_share: float) -> list[ColourShare]:
    if len(rgb) == 0:
        return []
    return named_shares(rgb, _labels(rgb, k), min_share)


def named_shares(
    rgb: np.ndarray, labels: np.ndarray, min_share: float, name: Callable[[np.ndarray], str] | None = None
) -> list[ColourShare]:
    """Each cluster named by its mean colour, clusters of one name merged, largest first, small ones dropped."""
    name = name or name_of
    shares: dict[str, list] = {}
    for cluster in np.unique(labels):
        members = rgb[labels == cluster]
        mean_rgb = members.mean(0)
        entry = shares.setdefault(name(mean_rgb), [0, np.zeros(3)])
        entry[0] += len(members)
        entry[1] += mean_rgb * len(members)
    total = len(rgb)
    found = [
        ColourShare(word, count / total, tuple(int(v) for v in (weighted / count).round()))
        for word, (count, weighted) in shares.items()
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
