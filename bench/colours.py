"""Library colour science and k-means in accessibility/colours.py against the hand-written code they replaced.

accessibility/colours.py names the dominant colours of a picture for screen-reader descriptions. It used to
hand-write sRGB→CIELAB and k-means (one k-means++ start, at most 12 Lloyd iterations, seed 0); it now calls
``skimage.color.rgb2lab`` and ``sklearn.cluster.KMeans`` (best of ``KMEANS_STARTS`` k-means++ starts). The
hand-written code is kept here, verbatim from commit e70557e, as the reference. Printed:

1. max |ΔLab| between the two conversions on the 16-level grid (4096 colours) plus the palette, and how many
   of those colours change their palette word (``--all-colours``: over all 16.7 M sRGB colours);
2. ms per image of ``appearance`` (the describe stage's call: ≤ 64×64 pixels), old and new in one run,
   alternating passes, on coco-mini/train2017 photos (decoded beforehand: decoding is not timed);
3. agreement over every coco-mini photo (train2017 + distractors): the share whose colour words (names and
   order) are identical, each difference with its shares, and lightness/chroma differences;
4. why they differ: the old words against the old code with other seeds (how much of them is the seed) and
   against the old code on scikit-image's Lab (the conversion alone), and that against the old seeding followed
   by scikit-learn's Lloyd iterations (the iterations alone); old and new against a reference, the words of the
   best of ``--reference-starts`` k-means++ starts (lowest within-cluster sum of squares), with that sum
   relative to the reference's.

Run: .venv/bin/python bench/colours.py [--photos 50] [--repeats 5] [--reference-starts 100] [--all-colours]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image

from accessibility import colours as new
from models.evaluation import coco_root

COCO = coco_root()


# ---- the hand-written code (accessibility/colours.py at e70557e) -------------------------------------------


def old_srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    matrix = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


_OLD_PALETTE_LAB = old_srgb_to_lab(np.array([rgb for _, rgb in new.PALETTE]))


def old_name_of(rgb) -> str:
    distances = np.linalg.norm(_OLD_PALETTE_LAB - old_srgb_to_lab(np.asarray(rgb))[None], axis=1)
    return new.PALETTE[int(np.argmin(distances))][0]


def old_kmeans(points: np.ndarray, k: int, iterations: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = points[[rng.integers(len(points))]]
    nearest = np.sum((points - centres[0]) ** 2, axis=1)
    for _ in range(1, k):
        if nearest.sum() == 0:
            break
        chosen = points[rng.choice(len(points), p=nearest / nearest.sum())]
        centres = np.vstack([centres, chosen])
        nearest = np.minimum(nearest, np.sum((points - chosen) ** 2, axis=1))
    labels = old_assign(points, centres)
    for _ in range(iterations):
        counts = np.bincount(labels, minlength=len(centres))
        sums = np.stack([np.bincount(labels, weights=points[:, c], minlength=len(centres)) for c in range(3)], 1)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        if np.allclose(moved, centres):
            break
        centres = moved
        labels = old_assign(points, centres)
    return centres, labels


def old_assign(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)


def old_distinct_colours(rgb: np.ndarray) -> int:
    packed = (rgb[:, 0].astype(np.int32) << 16) | (rgb[:, 1].astype(np.int32) << 8) | rgb[:, 2].astype(np.int32)
    return len(np.unique(packed))


def old_name_clusters(rgb: np.ndarray, k: int, min_share: float, seed: int = 0) -> list[new.ColourShare]:
    return name_clusters(rgb, k, min_share, lambda points, k: old_kmeans(points, k, seed=seed)[1])


def name_clusters(
    rgb: np.ndarray,
    k: int,
    min_share: float,
    labels_of: Callable[[np.ndarray, int], np.ndarray],
    to_lab: Callable[[np.ndarray], np.ndarray] = old_srgb_to_lab,
    name_of: Callable[[np.ndarray], str] = old_name_of,
) -> list[new.ColourShare]:
    """The old _name_clusters, with its clustering, conversion and naming as parameters."""
    if len(rgb) == 0:
        return []
    labels = labels_of(to_lab(rgb), min(k, old_distinct_colours(rgb)))
    return new.named_shares(rgb, labels, min_share, name_of)


def old_appearance(image: Image.Image, k: int = 5, min_share: float = 0.1, side: int = 64) -> new.Appearance:
    pixels = new._small_rgba(image, side)
    opaque = pixels[pixels[:, 3] >= 128][:, :3]
    transparent = float(np.mean(pixels[:, 3] < 128)) if len(pixels) else 0.0
    if len(opaque) == 0:
        return new.Appearance([], None, None, transparent)
    lab = old_srgb_to_lab(opaque)
    return new.Appearance(
        colours=old_name_clusters(opaque, k, min_share),
        lightness=float(lab[:, 0].mean()),
        chroma=float(np.hypot(lab[:, 1], lab[:, 2]).mean()),
        transparent=transparent,
    )


# ---- 1. colour conversion ----------------------------------------------------------------------------------


def lab_figures(all_colours: bool) -> None:
    levels = np.round(np.linspace(0, 255, 16)).astype(int)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    colours = np.vstack([grid, [rgb for _, rgb in new.PALETTE]])
    old_lab, new_lab = old_srgb_to_lab(colours), new.srgb_to_lab(colours)
    delta = np.abs(old_lab - new_lab)
    print(f"1. sRGB→CIELAB on {len(colours)} colours (16-level grid + palette):")
    print(f"   max |ΔL*|, |Δa*|, |Δb*| = {delta.max(0).round(4).tolist()}; max |ΔLab| = {delta.max():.4f}")
    print(f"   max ΔE76 = {np.linalg.norm(old_lab - new_lab, axis=1).max():.4f} (a just-noticeable difference is ~2.3)")
    renamed = [tuple(int(v) for v in c) for c in colours if old_name_of(c) != new.name_of(c)]
    print(f"   palette word changed for {len(renamed)} of them {renamed[:5]}")
    if all_colours:
        changed, examples = 0, []
        names = np.array(new._NAMES)
        for r in range(256):
            plane = np.stack(np.meshgrid([r], np.arange(256), np.arange(256), indexing="ij"), -1).reshape(-1, 3)
            before = names[_nearest(old_srgb_to_lab(plane), _OLD_PALETTE_LAB)]
            after = names[_nearest(new.srgb_to_lab(plane), new._palette_lab())]
            differ = np.flatnonzero(before != after)
            changed += len(differ)
            if len(differ) and len(examples) < 4:
                examples.append(f"{tuple(int(v) for v in plane[differ[0]])} {before[differ[0]]}→{after[differ[0]]}")
        print(f"   all 16,777,216 sRGB colours: word changed for {changed} ({changed / 2**24:.4%}), e.g. {examples}")


def _nearest(lab: np.ndarray, palette_lab: np.ndarray) -> np.ndarray:
    return np.argmin(((lab[:, None] - palette_lab[None]) ** 2).sum(-1), axis=1)


# ---- 2. speed ----------------------------------------------------------------------------------------------


def load(paths: list[Path]) -> list[Image.Image]:
    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


def speed(images: list[Image.Image], repeats: int) -> None:
    for image in images[:3]:  # warm-up: imports, caches
        old_appearance(image), new.appearance(image)
    times: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(repeats):
        for name, look in (("old", old_appearance), ("new", new.appearance)):
            start = time.perf_counter()
            for image in images:
                look(image)
            times[name].append((time.perf_counter() - start) * 1000 / len(images))
    print(f"2. appearance() ms per image on {len(images)} train2017 photos, median (min–max) of {repeats} passes:")
    for name, values in times.items():
        print(f"   {name}: {statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})")


# ---- 3. agreement and 4. why -------------------------------------------------------------------------------

Words = tuple[str, ...]


def words(colours: list[new.ColourShare]) -> Words:
    return tuple(c.name for c in colours)


def agreement(paths: list[Path], images: list[Image.Image]) -> None:
    same, same_set, differences = 0, 0, []
    share_gap, light_gap, chroma_gap = [], [], []
    for path, image in zip(paths, images, strict=True):
        before, after = old_appearance(image), new.appearance(image)
        assert after == new.appearance(image), f"{path.name}: not deterministic"
        light_gap.append(abs(before.lightness - after.lightness))
        chroma_gap.append(abs(before.chroma - after.chroma))
        if words(before.colours) == words(after.colours):
            same += 1
            share_gap += [abs(b.share - a.share) for b, a in zip(before.colours, after.colours, strict=True)]
            continue
        same_set += set(words(before.colours)) == set(words(after.colours))
        differences.append((path.name, before.colours, after.colours))
    n = len(paths)
    print(f"3. colour words, old against new, over {n} coco-mini photos (train2017 + distractors):")
    print(f"   identical word lists (names and order): {same}/{n} = {same / n:.1%}")
    print(f"   same words in another order: {same_set}; other words: {len(differences) - same_set}")
    if share_gap:
        print(f"   where identical, |Δshare| median {np.median(share_gap):.3f}, max {max(share_gap):.3f}")
    print(f"   |Δ mean L*| max {max(light_gap):.4f}, |Δ mean chroma| max {max(chroma_gap):.4f}")
    for name, before, after in differences:
        print(f"   {name}: old {_shares(before)}")
        print(f"   {' ' * len(name)}  new {_shares(after)}")


def _shares(colours: list[new.ColourShare]) -> str:
    return ", ".join(f"{c.name} {c.share:.2f}" for c in colours) or "(none)"


Clustering = Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (points, weights, k) → labels


def _with_clustering(cluster: Clustering, pixels: list[np.ndarray]) -> list[Words]:
    """The product's words with another clustering in place of its own."""
    with mock.patch.object(new, "_cluster", cluster):
        return [words(new._name_clusters(rgb, 5, 0.1)) for rgb in pixels]


def _sklearn(starts: int, seed: int) -> Clustering:
    """The product's clustering with another number of starts and seed."""
    from sklearn.cluster import KMeans

    def cluster(points: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
        with new._thread_pools().limit(limits=1, user_api="openmp"):
            return KMeans(n_clusters=k, n_init=starts, random_state=seed).fit(points, sample_weight=weights).labels_

    return cluster


def _old_seeding_then_sklearn(points: np.ndarray, k: int) -> np.ndarray:
    """The old k-means++ draw (seed 0), then scikit-learn's Lloyd iterations, capped as the old loop was."""
    from sklearn.cluster import KMeans

    centres, _ = old_kmeans(points, k, iterations=0)
    with new._thread_pools().limit(limits=1, user_api="openmp"):
        return KMeans(n_clusters=len(centres), init=centres, n_init=1, max_iter=12, tol=0).fit(points).labels_


def _old_labels(seed: int) -> Callable[[np.ndarray, int], np.ndarray]:
    return lambda points, k: old_kmeans(points, k, seed=seed)[1]


def _sum_of_squares(lab: np.ndarray, labels: np.ndarray) -> float:
    return float(sum(((lab[labels == c] - lab[labels == c].mean(0)) ** 2).sum() for c in np.unique(labels)))


def why(images: list[Image.Image], reference_starts: int) -> None:
    pixels = [new._opaque_pixels(image, 64) for image in images]
    labs = [new.srgb_to_lab(rgb) for rgb in pixels]
    old = {seed: [words(old_name_clusters(rgb, 5, 0.1, seed=seed)) for rgb in pixels] for seed in range(5)}
    reference = _with_clustering(_sklearn(reference_starts, seed=12345), pixels)
    with mock.patch.object(new, "_cluster", _sklearn(reference_starts, seed=12345)):
        reference_labels = [new._labels(rgb, 5) for rgb in pixels]
    reference_sum = np.array([_sum_of_squares(lab, labels) for lab, labels in zip(labs, reference_labels, strict=True)])

    def share(a: list[Words], b: list[Words]) -> str:
        return f"{np.mean([x == y for x, y in zip(a, b, strict=True)]):.1%}"

    def cost(labels: list[np.ndarray]) -> str:
        sums = np.array([_sum_of_squares(lab, each) for lab, each in zip(labs, labels, strict=True)])
        return f"{np.mean(sums / reference_sum):.4f}"

    n = len(images)
    print(f"4. why, over the same {n} photos (identical word lists; k-means sum of squares / the reference's):")
    print(f"   old seed 0 against old seeds 1–4: {', '.join(share(old[0], old[s]) for s in range(1, 5))}")
    new_lab = {"to_lab": new.srgb_to_lab, "name_of": new.name_of}
    lab_only = [words(name_clusters(rgb, 5, 0.1, _old_labels(0), **new_lab)) for rgb in pixels]
    replay = [words(name_clusters(rgb, 5, 0.1, _old_seeding_then_sklearn, **new_lab)) for rgb in pixels]
    print(f"   old seed 0 against the old k-means on scikit-image's Lab (the conversion): {share(old[0], lab_only)}")
    print(f"   that against the old seeding, then scikit-learn's Lloyd iterations: {share(lab_only, replay)}")
    print(f"   reference = best of {reference_starts} k-means++ starts:")
    old_labels = [old_kmeans(old_srgb_to_lab(rgb), min(5, old_distinct_colours(rgb)))[1] for rgb in pixels]
    print(f"     old seeds 0–4: {', '.join(share(old[s], reference) for s in range(5))}; sum {cost(old_labels)}")
    for starts in sorted({1, 3, new.KMEANS_STARTS}):
        runs = [_with_clustering(_sklearn(starts, seed), pixels) for seed in range(3)]
        with mock.patch.object(new, "_cluster", _sklearn(starts, 0)):
            labels = [new._labels(rgb, 5) for rgb in pixels]
        print(
            f"     scikit-learn, best of {starts:2d}, seeds 0–2: {', '.join(share(r, reference) for r in runs)}; "
            f"seed 0 against seeds 1, 2: {share(runs[0], runs[1])}, {share(runs[0], runs[2])}; sum {cost(labels)}"
        )
    current = [words(new._name_clusters(rgb, 5, 0.1)) for rgb in pixels]
    print(f"     the product (best of {new.KMEANS_STARTS}, seed 0): {share(current, reference)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=50, help="train2017 photos timed")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes over them, old and new alternating")
    parser.add_argument("--reference-starts", type=int, default=100, help="k-means++ starts of the reference")
    parser.add_argument("--all-colours", action="store_true", help="count word changes over all 2^24 colours")
    args = parser.parse_args()

    lab_figures(args.all_colours)
    paths = sorted((COCO / "train2017").glob("*.jpg")) + sorted((COCO / "distractors").glob("*.jpg"))
    if not paths:
        sys.exit(f"no photos under {COCO}")
    images = load(paths)
    speed(images[: args.photos], args.repeats)
    agreement(paths, images)
    why(images, args.reference_starts)


if __name__ == "__main__":
    main()
