"""What the detector finds and the text reader reads in panoramas, before and as served.

No packaged data has panoramas with labels, so they are made: coco-mini's 160 photos (80 captioned, 80 held out
with captions written for them) in a fixed random order, cut into groups of 3 (or ``--per``), each group scaled to
480 pixels high and put side by side (about 3.7:1). An object counts as named when at least 2 of a photo's 5
captions name it (as ``bench/description_quality.py`` counts); a class found that no caption of the group names
counts as unnamed (often a real but unmentioned thing, sometimes a mistake). People are counted against the
detector's own count on each photo alone, the best it can do.

Objects, rows: each photo alone (the reference); the panorama stretched to the square input (before); letterboxed
(grey bands to a square); tiles of the ordinary 4:3 shape alone; and the whole plus its tiles, merged (served for
wide pictures: ``models/detectors/tiles.py``; tall ones, mostly screenshots, are looked at whole).

Text, over the panoramas with a photo in which text is read alone: the words of 3 letters or more read in each
photo alone, read again in the panorama with the text detector seeing it 960 pixels long (before) or with a 4:3
photo's short side (served: ``models/text_reader.py:detection_side``).

Run: .venv/bin/python bench/panoramas.py [--per 3] [--tall]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
from PIL import Image

from accessibility.objects import mentioned, seen_sentence, spoken
from accessibility.wordnet import default_wordnet
from bench.held_out import held_out_set
from models.detectors import Detection, open_detector
from models.detectors.centernet import COCO_CLASSES
from models.detectors.tiles import merged, tiles
from models.evaluation import coco_root, load_coco_captions, ranks_of_positives, recall_at
from models.fusion import blend, seen_vectors
from models.runtime import OnnxImageEncoder, OnnxTextEncoder
from models.text_reader import TextReader, detection_side

HEIGHT = 480
SAID = 0.3  # the describer's "possibly": what a description could mention


def captions_by_photo(coco_folder) -> tuple[list, list[list[str]]]:
    coco = load_coco_captions(coco_folder)
    paths = list(coco.image_paths) + list(coco.distractor_paths)
    captions: dict[str, list[str]] = {}
    for caption, owner in zip(coco.captions, coco.caption_image, strict=True):
        captions.setdefault(paths[owner].stem, []).append(caption)
    held = held_out_set(coco_folder)
    for caption, owner in zip(held.captions, held.caption_image, strict=True):
        captions.setdefault(held.image_paths[owner].stem, []).append(caption)
    return paths, [captions.get(p.stem, []) for p in paths]


def side_by_side(photos: list[Image.Image], tall: bool = False) -> Image.Image:
    """The photos scaled to one height and put in a row, or (``tall``) scaled to one width and stacked."""
    if tall:
        return side_by_side([p.transpose(Image.Transpose.TRANSPOSE) for p in photos]).transpose(
            Image.Transpose.TRANSPOSE
        )
    scaled = [p.resize((round(p.width * HEIGHT / p.height), HEIGHT), Image.Resampling.BILINEAR) for p in photos]
    strip = Image.new("RGB", (sum(p.width for p in scaled), HEIGHT))
    x = 0
    for p in scaled:
        strip.paste(p, (x, 0))
        x += p.width
    return strip


def letterboxed(detector, picture: Image.Image) -> list[Detection]:
    side = max(picture.size)
    square = Image.new("RGB", (side, side), (114, 114, 114))
    top = (side - picture.height) // 2
    square.paste(picture, (0, top))
    found = detector.detect([square], whole=[True])[0]
    return [Detection(d.label, d.score, (d.box[0], d.box[1] - top, d.box[2], d.box[3] - top), d.raw) for d in found]


def in_tiles(detector, picture: Image.Image, with_whole: bool = True) -> list[Detection]:
    """The picture's 4:3 tiles, and the whole too unless told not to, detected and merged: what the detector
    serves for a wide panorama, here for tall ones too (not served: screenshots)."""
    crops = tiles(*picture.size, tall=True)[0 if with_whole else 1 :]
    return merged(detector.detect([picture.crop(c) for c in crops], whole=[True] * len(crops)), crops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per", type=int, default=3, help="photos per panorama (default 3)")
    parser.add_argument("--tall", action="store_true", help="stack the photos (tall panoramas) instead of a row")
    args = parser.parse_args()
    wordnet = default_wordnet()
    paths, captions = captions_by_photo(coco_root())

    def named(i: int, at_least: int) -> set[str]:
        return {
            spoken(c) for c in COCO_CLASSES if sum(mentioned(spoken(c), t, wordnet) for t in captions[i]) >= at_least
        }

    order = np.random.default_rng(0).permutation(len(paths))
    groups = [order[i : i + args.per] for i in range(0, len(order) - args.per + 1, args.per)]
    photos = {i: Image.open(paths[i]).convert("RGB") for g in groups for i in g}
    strips = [side_by_side([photos[i] for i in g], args.tall) for g in groups]
    detector = open_detector(threads=2)
    detector.detect([strips[0]])  # warm up

    alone = [
        [d for found in detector.detect([photos[i] for i in g], whole=[True] * len(g)) for d in found] for g in groups
    ]
    ways: dict[str, Callable[[Image.Image], list[Detection]]] = {
        "stretched to the square input (before)": lambda p: detector.detect([p], whole=[True])[0],
        "letterboxed": lambda p: letterboxed(detector, p),
        "4:3 tiles alone": lambda p: in_tiles(detector, p, with_whole=False),
        "**whole + 4:3 tiles, merged** (served for wide pictures)": lambda p: in_tiles(detector, p),
    }
    print(
        f"{len(strips)} {'tall ' if args.tall else ''}panoramas of {args.per} coco-mini photos, {HEIGHT} pixels "
        f"{'wide' if args.tall else 'high'}, "
        f"{np.mean([max(s.size) / min(s.size) for s in strips]):.1f}:1 on average; detections said at ≥ {SAID}\n"
    )
    print("| looked at | named objects found | unnamed classes | people: mean count error | ms per panorama |")
    print("|---|---|---|---|---|")
    rows: list[tuple[str, list, float | None]] = [("each photo alone (reference)", alone, None)]
    for label, way in ways.items():
        started = time.perf_counter()
        found = [way(s) for s in strips]
        rows.append((label, found, (time.perf_counter() - started) / len(strips) * 1000))
    for label, found, ms in rows:
        want = hit = unnamed = 0
        errors = []
        for g, objects, reference in zip(groups, found, alone, strict=True):
            wanted = set().union(*(named(i, 2) for i in g))
            anywhere = set().union(*(named(i, 1) for i in g))
            said = {spoken(d.label) for d in objects if d.score >= SAID}
            want, hit, unnamed = want + len(wanted), hit + len(wanted & said), unnamed + len(said - anywhere)
            count = Counter(d.label for d in objects if d.score >= SAID)["person"]
            errors.append(abs(count - Counter(d.label for d in reference if d.score >= SAID)["person"]))
        timing = "-" if ms is None else f"{ms:.0f}"
        print(f"| {label} | {hit} of {want} | {unnamed} | {np.mean(errors):.2f} | {timing} |")
    read_before, read_served = text_table(groups, photos, strips)
    search_table(groups, captions, strips, (rows[1][1], read_before), (rows[-1][1], read_served))


def words(lines) -> set[str]:
    return {w for line in lines for w in re.findall(r"[a-z0-9]{3,}", line.text.lower())}


def text_table(groups: list, photos: dict, strips: list[Image.Image]) -> tuple[list, list]:
    """Prints the text table; returns each panorama's lines as read before and as served."""
    import models.text_reader as text_reader

    reader = TextReader(threads=2)
    alone = {i: words(reader.read(photo)) for i, photo in photos.items()}
    chosen = [n for n, g in enumerate(groups) if any(alone[i] for i in g)]
    print(f"\n{len(chosen)} of the panoramas have a photo in which text is read alone\n")
    print("| text detector sees the panorama | words read again | other words | ms per panorama |\n|---|---|---|---|")
    reads = []
    for label, side in (
        ("960 pixels long (before)", lambda w, h, m: m),
        ("**with a 4:3 photo's short side** (served)", detection_side),
    ):
        text_reader.detection_side = side  # the reader looks the rule up at each call
        try:
            started = time.perf_counter()
            lines = [reader.read(strip) for strip in strips]
            ms = (time.perf_counter() - started) / len(strips) * 1000
        finally:
            text_reader.detection_side = detection_side
        reads.append(lines)
        hit = want = other = 0
        for n in chosen:
            got, wanted = words(lines[n]), set().union(*(alone[i] for i in groups[n]))
            hit, want, other = hit + len(got & wanted), want + len(wanted), other + len(got - wanted)
        print(f"| {label} | {hit} of {want} | {other} | {ms:.0f} (all {len(strips)}) |")
    return reads[0], reads[1]


def search_table(groups: list, captions: list[list[str]], strips: list[Image.Image], before, served) -> None:
    """Each caption of a photo asks for its panorama among all of them: the default bundle's image embedding,
    blended at the served weight with the sentence of what was seen (words are left out)."""
    from bench.perception import ROOT, SERVED

    bundle = ROOT / json.loads((ROOT / "data/06_models/model_bundle.json").read_text())["folder"]
    images, texts = OnnxImageEncoder(bundle, threads=2), OnnxTextEncoder(bundle, threads=2)
    dense = np.concatenate([images.run_views(images.preprocess.views(s)[None]).embeddings for s in strips])
    asked = [(c, n) for n, g in enumerate(groups) for i in g for c in captions[i]]
    queries = texts.encode_queries([c for c, _ in asked])
    owners = [{n} for _, n in asked]
    print(f"\n{len(asked)} captions, each asking for its photo's panorama among the {len(strips)}\n")
    print("| image side | R@1 | R@5 | R@10 |\n|---|---|---|---|")
    rows = [("dense alone", dense)]
    for label, (objects, lines) in (
        ("+ seen, stretched and read at 960 (before)", before),
        ("**+ seen, in tiles and read at a photo's short side** (served for wide pictures)", served),
    ):
        sentences = [seen_sentence(o, [line.text for line in t]) for o, t in zip(objects, lines, strict=True)]
        rows.append((label, blend(dense, seen_vectors(texts, sentences), SERVED["seen_blend"])))
    for label, vectors in rows:
        r = recall_at(ranks_of_positives(queries @ vectors.T, owners))
        print(f"| {label} | {r['R@1']:.3f} | {r['R@5']:.3f} | {r['R@10']:.3f} |")


if __name__ == "__main__":
    main()
