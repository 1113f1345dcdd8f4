"""Quality of the composed descriptions against human captions: the captioned Tux Paint stamps of the demo
collection (one caption each), ../shared/data/coco-mini (five captions per photo) and coco-mini's distractors,
held out (five captions per photo written for Glimpse; bench/held_out.py).

- main subject: how often the thing the alt leads with (the first object detected, people first, or the
  classifier's subject, as the describer's evidence says in ``alt_lead``) is mentioned in the image's captions
  — by its name, a plural, or a word that is a kind of it (``accessibility.objects.mentioned``); counted over
  all images, so an alt that names nothing is a miss; for coco-mini also the stricter "in at least 2 of the 5 captions";
- people named: photos whose captions (at least 2 of 5) mention people and whose alt names them;
- objects named: of the COCO classes at least 2 captions mention, the share the alt names (recall), and of
  the classes the alt names, the share some caption mentions (precision);
- noun hit rate: how often the classifier subject the describer names (or one of its WordNet hypernyms that a
  description could use, e.g. "bird" for "goldfinch") appears in the image's human captions; the chance
  rate is the same nouns checked against the captions of a random other image;
- the same, per confidence band, which is how the band below which alt text names nothing was chosen;
- alt similarity: cosine of ``alt`` and the human captions in the bundle's text space (all-MiniLM-L6-v2 for the
  default model), against the same for a random other image;
- people on held-out photos: coco-mini's distractors are COCO val2017 photos the detector never saw in training
  (coco-mini itself is its training set); bench/labels/coco_mini_distractor_people.json says by eye where people
  are. Reported: alts naming people where they are a subject and where they are only in the background, alts
  naming a person where there is none, and how often "more people" (unsure person detections beside a count)
  is right, i.e. more people are visible than the alt counts.

The source descriptions of the stamps are not given to the describer here, so the figures measure only what
the models and the pixels tell. Detections are made as the see stage makes them; text is not read (it follows
the lead in the alt and does not change what these figures count).
Run: .venv/bin/python bench/description_quality.py [--bundle FOLDER] [--no-detector]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

from accessibility.describer import Describer, Facts, load_reduced
from accessibility.labels import Label, speakable
from accessibility.objects import MANY, mentioned, named_in, spoken
from accessibility.wording import HEDGES
from accessibility.wordnet import WordNet, default_wordnet
from bench.held_out import CAPTIONS as HELD_OUT_CAPTIONS
from bench.held_out import PEOPLE as PEOPLE_LABELS
from bench.held_out import held_out_set
from models.batch import top_k
from models.detectors import DEFAULT, NAMES, Detector, open_detector
from models.detectors.centernet import COCO_CLASSES
from models.evaluation import CaptionedSet, coco_root, load_coco_captions
from models.runtime import OnnxImageEncoder, OnnxTextEncoder
from pipeline.pipelines.see.nodes import cut_out, on_white
from pipeline.source_notes import read_source_notes

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = "held out (distractors)"  # the set of bench/held_out.py

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
        sets["coco-mini"] = captioned_items(load_coco_captions(coco_root))
    if (coco_root / "distractors").is_dir() and HELD_OUT_CAPTIONS.exists():
        sets[HELD_OUT] = captioned_items(held_out_set(coco_root))
    return sets


def captioned_items(captioned: CaptionedSet) -> list[tuple[Path, list[str]]]:
    """Each captioned image with its captions."""
    by_image: dict[int, list[str]] = {}
    for caption, owner in zip(captioned.captions, captioned.caption_image, strict=True):
        by_image.setdefault(owner, []).append(caption)
    return [(captioned.image_paths[i], caps) for i, caps in sorted(by_image.items())]


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


def describe_set(items, encoder: OnnxImageEncoder, describer: Describer, detector: Detector | None) -> list[dict]:
    """Describe every image as the pipeline does (same decoding, top-10 classes, detections; no source text)."""
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
            seen = load_reduced(data, side=2048)
            objects = detector.detect([on_white(seen)], whole=[cut_out(seen)])[0] if detector else []
            said = describer.describe(load_reduced(data), labels, facts, objects=objects)
            out.append(
                {
                    "captions": captions,
                    "alt": said.alt,
                    "subject": said.evidence["subject"],
                    "said_objects": said.evidence["said_objects"],
                    "alt_lead": said.evidence["alt_lead"],
                }
            )
    return out


def lead_mentions(item: dict, wordnet: WordNet) -> int:
    """How many of the image's captions mention the thing its alt leads with (0 when the alt names nothing)."""
    if item["alt_lead"] == "objects":
        name = item["said_objects"][0]["name"]
        return sum(mentioned(name, caption, wordnet) for caption in item["captions"])
    if item["alt_lead"] != "subject":
        return 0
    subject = item["subject"]
    nouns = nouns_for(wordnet, subject["id"]) | {subject["name"].lower()}
    return sum(mentions([caption], nouns) for caption in item["captions"])


def objects_named(described: list[dict], wordnet: WordNet) -> dict:
    """People and COCO classes named in alts against the classes the captions mention."""
    wanted = found = said = said_right = people = people_named = 0
    for item in described:
        alt = item["alt"]
        for label in COCO_CLASSES:
            name = spoken(label)
            in_captions = sum(mentioned(name, caption, wordnet) for caption in item["captions"])
            in_alt = named_in(name, alt)
            if in_captions >= min(2, len(item["captions"])):
                wanted += 1
                found += in_alt
                if name == "person":
                    people += 1
                    people_named += in_alt
            if in_alt:
                said += 1
                said_right += in_captions > 0
    return {
        "people": people,
        "people_named": people_named,
        "objects_wanted": wanted,
        "objects_recall": found / wanted if wanted else 0.0,
        "objects_said": said,
        "objects_precision": said_right / said if said else 0.0,
    }


def held_out_people(described: list[dict], labels: list[dict]) -> dict:
    """Alts against the eye labels of the distractors: people named by kind of photo, and "more people" checked."""
    named: dict[str, list[bool]] = {"notable": [], "background": [], "none": []}
    more, more_right, counted_right = 0, 0, []
    for item, label in zip(described, labels, strict=True):
        alt = item["alt"]
        named[label["people"]].append(named_in("person", alt))
        people = next((s for s in item["said_objects"] if s["name"] == "person" and s["count"]), None)
        if people is not None and label["visible"]:
            counted_right.append(min(people["count"], MANY + 1) == min(label["visible"], MANY + 1))
        if re.search(r"\bpossibly (?:also )?more\b", alt):  # "five people, possibly more", "... possibly more people"
            more += 1
            more_right += label["visible"] > (people["count"] if people else 0)
    return {
        **{f"people_{kind}": len(v) for kind, v in named.items()},
        **{f"named_{kind}": int(sum(v)) for kind, v in named.items()},
        "more_people_said": more,
        "more_people_right": more_right,
        "people_counted": len(counted_right),
        "people_count_exact": int(sum(counted_right)),
    }


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
    leads = [lead_mentions(item, wordnet) for item in described]
    return {
        "images": n,
        "main_subject": float(np.mean([m >= 1 for m in leads])),
        "main_subject_2": float(np.mean([m >= 2 for m in leads])),
        **objects_named(described, wordnet),
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
    parser.add_argument("--coco", type=Path, default=coco_root(), help="default: $GLIMPSE_COCO or ../shared")
    parser.add_argument("--manifest", type=Path, default=ROOT / "data" / "01_raw" / "demo" / "manifest.csv")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--no-detector", action="store_true", help="describe from the classifier alone (before)")
    parser.add_argument("--detector", choices=NAMES, default=DEFAULT)
    args = parser.parse_args()
    bundle = args.bundle or Path(json.loads((ROOT / "data/06_models/model_bundle.json").read_text())["folder"])
    bundle = bundle if bundle.is_absolute() else ROOT / bundle
    encoder, text = OnnxImageEncoder(bundle, threads=2), OnnxTextEncoder(bundle, threads=2)
    wordnet = default_wordnet()
    describer = Describer(wordnet)
    detector = None if args.no_detector else open_detector(args.detector, threads=2)
    results = {}
    alts_of: dict[str, dict] = {}  # each held-out photo's description, for the people figures below
    for name, items in captioned_sets(args.coco, args.manifest).items():
        started = time.perf_counter()
        described = describe_set(items, encoder, describer, detector)
        results[name] = score(described, wordnet, text) | {"seconds": round(time.perf_counter() - started, 1)}
        if name == HELD_OUT:
            alts_of = {path.name: item for (path, _), item in zip(items, described, strict=True)}
    print(f"bundle {encoder.spec} ({encoder.version}); detector {detector.spec if detector else 'none'}\n")
    print(
        "| set | images | main subject in captions | in ≥ 2 captions | people named | objects named "
        "(recall) | objects named that captions mention (precision) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        strict = f"{r['main_subject_2']:.1%}" if name != "Tux Paint stamps" else "–"
        print(
            f"| {name} | {r['images']} | {r['main_subject']:.1%} | {strict} | {r['people_named']} of {r['people']} "
            f"| {r['objects_recall']:.1%} of {r['objects_wanted']} | {r['objects_precision']:.1%} of "
            f"{r['objects_said']} |"
        )
    print()
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
    if alts_of:
        photos = json.loads(PEOPLE_LABELS.read_text())["photos"]
        names = sorted(photos)
        people = results["held-out people"] = held_out_people([alts_of[n] for n in names], [photos[n] for n in names])
        print(
            f"\nHeld-out people (coco-mini distractors, COCO val2017, labelled by eye): alts name people in "
            f"{people['named_notable']} of {people['people_notable']} photos where they are a subject and "
            f"{people['named_background']} of {people['people_background']} where they are in the background; "
            f"a person is named in {people['named_none']} of {people['people_none']} photos without one. "
            f'"more people" is said in {people["more_people_said"]} alts, rightly (more visible than counted) in '
            f"{people['more_people_right']}; where people are counted the count is exact in "
            f"{people['people_count_exact']} of {people['people_counted']} (above {MANY} as one band)."
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
