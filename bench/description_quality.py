"""Quality of the composed descriptions against human captions: the captioned Tux Paint stamps of the demo
collection (one caption each) and ../shared/data/coco-mini (five captions per photo).

- noun hit rate: how often the subject the describer names (or one of its WordNet hypernyms that a
  description could use, e.g. "bird" for "goldfinch") appears in the image's human captions; the chance
  rate is the same nouns checked against the captions of a random other image;
- the same, per confidence band, which is how the band below which alt text names nothing was chosen;
- alt similarity: cosine of ``alt`` and the human captions in the bundle's text space (all-MiniLM-L6-v2 for the
  default model), against the same for a random other image.

The source descriptions of the stamps are not given to the describer here, so the figures measure only what
the model and the pixels tell. Run: .venv/bin/python bench/description_quality.py [--bundle FOLDER]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accessibility.describer import Describer, Facts, load_reduced  # noqa: E402
from accessibility.labels import Label, speakable  # noqa: E402
from accessibility.wording import HEDGES  # noqa: E402
from accessibility.wordnet import WordNet, default_wordnet  # noqa: E402
from models.batch import top_k  # noqa: E402
from models.evaluation import load_coco_captions  # noqa: E402
from models.runtime import OnnxImageEncoder, OnnxTextEncoder  # noqa: E402
from pipeline.source_notes import read_source_notes  # noqa: E402

BANDS = [*(lowest for lowest, _ in HEDGES), 0.0]


def captioned_sets(coco_root: Path, manifest: Path) -> dict[str, list[tuple[Path, list[str]]]]:
    sets: dict[str, list[tuple[Path, list[str]]]] = {}
    notes = read_source_notes(manifest)
    stamps = [
        (manifest.parent / row["file"], [row["description"]])
        for row in notes.values()
        if row.get("collection") == "tuxpaint-stamps" and row.get("description")
    ]
    if stamps:
        sets["Tux Paint stamps"] = [(path, caps) for path, caps in stamps if path.exists()]
    if (coco_root / "captions_train2017.json").exists():
        coco = load_coco_captions(coco_root)
        by_image: dict[int, list[str]] = {}
        for caption, owner in zip(coco.captions, coco.caption_image, strict=True):
            by_image.setdefault(owner, []).append(caption)
        sets["coco-mini"] = [(coco.image_paths[i], caps) for i, caps in sorted(by_image.items())]
    return sets


def nouns_for(wordnet: WordNet, synset_id: str) -> set[str]:
    """The subject's own words and those of the hypernyms a description could say instead."""
    try:
        start = wordnet.synset(synset_id)
    except KeyError:
        return set()
    words = set(start.lemmas)
    for offset in wordnet.ancestors(synset_id)[1:]:
        if speakable(wordnet, offset):
            words.update(wordnet.synset(offset).lemmas)
    return {w.lower() for w in words if len(w) > 2}


def mentions(captions: list[str], nouns: set[str]) -> bool:
    text = " " + " ".join(re.sub(r"[^a-z0-9 ]+", " ", c.lower()) for c in captions) + " "
    return any(re.search(rf" {re.escape(noun)}(?:s|es)? ", text) for noun in nouns)


def describe_set(items, encoder: OnnxImageEncoder, describer: Describer) -> list[dict]:
    """Describe every image exactly as the pipeline does (same decoding, top-10 classes, no source text)."""
    out = []
    for start in range(0, len(items), 32):
        batch = items[start : start + 32]
        files = [path.read_bytes() for path, _ in batch]
        pixels = np.stack([encoder.preprocess.load(data) for data in files])
        indices, probabilities = top_k(encoder.run(pixels).probabilities, 10)
        for (_, captions), data, row_i, row_p in zip(batch, files, indices, probabilities, strict=True):
            labels = [
                Label(encoder.class_ids[c], encoder.class_names[c], float(p)) for c, p in zip(row_i, row_p, strict=True)
            ]
            with Image.open(io.BytesIO(data)) as header:
                facts = Facts(*header.size)
            said = describer.describe(load_reduced(data), labels, facts)
            out.append({"captions": captions, "alt": said.alt, "subject": said.evidence["subject"]})
    return out


def score(described: list[dict], wordnet: WordNet, text: OnnxTextEncoder, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = len(described)
    other = (np.arange(n) + rng.integers(1, n, size=n)) % n  # a random different image for each
    hits, chance, bands = [], [], {b: [] for b in BANDS}
    for i, item in enumerate(described):
        subject = item["subject"]
        if subject is None:
            continue
        nouns = nouns_for(wordnet, subject["id"]) | {subject["name"].lower()}
        hit = mentions(item["captions"], nouns)
        band = next(b for b in BANDS if subject["confidence"] >= b)
        bands[band].append(hit)
        if band >= BANDS[-2]:  # named in alt text
            hits.append(hit)
            chance.append(mentions(described[other[i]]["captions"], nouns))
    alts = text.encode_texts([item["alt"] for item in described])
    caption_means = np.stack([text.encode_texts(item["captions"]).mean(axis=0) for item in described])
    caption_means /= np.linalg.norm(caption_means, axis=1, keepdims=True)
    own = np.sum(alts * caption_means, axis=1)
    mismatched = np.sum(alts * caption_means[other], axis=1)
    return {
        "images": n,
        "named_in_alt": len(hits),
        "noun_hit_rate": float(np.mean(hits)) if hits else 0.0,
        "noun_chance_rate": float(np.mean(chance)) if chance else 0.0,
        "bands": {f"{b:.2f}": (len(v), float(np.mean(v)) if v else None) for b, v in bands.items()},
        "alt_cosine_own": float(own.mean()),
        "alt_cosine_other": float(mismatched.mean()),
        "alt_closer_to_own": float(np.mean(own > mismatched)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, default=None, help="model bundle folder (default: the pipeline's)")
    parser.add_argument("--coco", type=Path, default=ROOT.parent / "shared" / "data" / "coco-mini")
    parser.add_argument("--manifest", type=Path, default=ROOT / "data" / "01_raw" / "demo" / "manifest.csv")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    bundle = args.bundle or Path(json.loads((ROOT / "data/06_models/model_bundle.json").read_text())["folder"])
    bundle = bundle if bundle.is_absolute() else ROOT / bundle
    encoder, text = OnnxImageEncoder(bundle, threads=2), OnnxTextEncoder(bundle, threads=2)
    wordnet = default_wordnet()
    describer = Describer(wordnet)
    results = {}
    for name, items in captioned_sets(args.coco, args.manifest).items():
        started = time.perf_counter()
        described = describe_set(items, encoder, describer)
        results[name] = score(described, wordnet, text) | {"seconds": round(time.perf_counter() - started, 1)}
    print(f"bundle {encoder.spec} ({encoder.version})\n")
    print(
        "| set | images | named in alt | main noun (or hypernym) in captions | chance | alt↔captions cosine | "
        "random pair | alt closer to own captions |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['images']} | {r['named_in_alt']} | {r['noun_hit_rate']:.1%} | {r['noun_chance_rate']:.1%} "
            f"| {r['alt_cosine_own']:.3f} | {r['alt_cosine_other']:.3f} | {r['alt_closer_to_own']:.1%} |"
        )
    print("\nNoun hit rate by confidence band (images, hit rate):\n")
    print("| set | " + " | ".join(f"≥ {b:.2f}" for b in BANDS) + " |")
    print("|---|" + "---|" * len(BANDS))
    for name, r in results.items():
        cells = [f"{n}, {rate:.0%}" if rate is not None else f"{n}, –" for n, rate in r["bands"].values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
