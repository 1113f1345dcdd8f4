"""What seeing adds to search and descriptions, on ../shared/data/coco-mini (80 captioned photos + 80
distractors; each of the 400 captions a text query for its own photo).

Ablation, text→image Recall@1/5/10, every blend or fusion weight chosen by 5-fold cross-validation over the
captioned photos (fitted on the captions of 64, measured on the other 16; all 160 photos in the gallery):

- dense: the bundle's image embedding alone (the server before this work), with queries as typed and worded by
  the bundle's query prompt ("a photo of {}" for ConSE: models/bundle.py TextSpec);
- + seen (objects): the image embedding blended with the embedding of a sentence built from the detections;
- + seen (objects, text): the same sentence with the text read in the picture;
- + seen (alt) / (long): blended with the composed alt text / long description instead;
- + words: BM25 over detections, text read and descriptions (models/lexical.py) fused with the blend;
- words alone;
- + caption adapter: ridge regression from the image tower's 1280-d features to the mean text embedding of an
  image's captions, fitted per fold on the training images only (ridge strength and blend weight chosen by an
  inner cross-validation on those images), added to the blend: what a learned image-side adapter would give.

Also: detector and text-reader ms per photo, people named in alts where captions mention people, and how often
the alt's lead names something the captions mention. The COCO detector was trained on COCO train2017, which
coco-mini is: its figures here flatter it; held-out photos are the real test.

Run: .venv/bin/python bench/perception.py [--folds 5]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from accessibility.describer import Describer, Facts, TextRead, load_reduced
from accessibility.labels import Label
from accessibility.objects import NUMBERS, seen_sentence
from accessibility.wordnet import default_wordnet
from bench.held_out import held_out_set
from models.batch import top_k
from models.detectors import DEFAULT, NAMES, open_detector
from models.evaluation import coco_root, load_coco_captions, ranks_of_positives, recall_at
from models.fusion import blend, fuse, seen_vectors
from models.lexical import LexicalIndex, objects_text
from models.runtime import OnnxImageEncoder, OnnxTextEncoder
from models.text_reader import TextReader
from pipeline.pipelines.index.nodes import words_in_no_dictionary
from pipeline.pipelines.see.nodes import cut_out, on_white

ROOT = Path(__file__).resolve().parents[1]

BLENDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.5)
FUSIONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)


def served_weights() -> dict[str, float]:
    """The search weights the pipeline serves (conf/base/parameters.yml ``index``)."""
    import yaml

    index = yaml.safe_load((ROOT / "conf/base/parameters.yml").read_text())["index"]
    return {k: float(index[k]) for k in ("seen_blend", "words_weight", "words_exact_weight")}


SERVED = served_weights()
EXACT_WEIGHT = SERVED["words_exact_weight"]
PEOPLE = re.compile(
    r"\b(person|people|man|men|woman|women|boy|boys|girl|girls|child|children|kid|kids|guy|guys|lady|ladies|"
    r"player|players|skier|surfer|crowd|family|couple|group)\b"
)


def look(paths: list[Path], bundle: Path, detector_name: str = DEFAULT) -> dict:
    """Embeddings, detections, text and descriptions of every photo, as the pipeline makes them."""
    encoder = OnnxImageEncoder(bundle, threads=2)
    detector = open_detector(detector_name, threads=2)
    reader = TextReader(threads=2)
    describer = Describer(default_wordnet())
    out = {"embeddings": [], "features": [], "objects": [], "text": [], "alt": [], "long": [], "said": []}
    timing = {"detect": [], "read": []}
    for path in paths:
        data = path.read_bytes()
        outputs = encoder.run_views(encoder.preprocess.load_views(data)[None])  # as the pipeline embeds it
        indices, probabilities = top_k(outputs.probabilities, 10)
        labels = [
            Label(encoder.class_ids[c], encoder.class_names[c], float(p))
            for c, p in zip(indices[0], probabilities[0], strict=True)
        ]
        picture = load_reduced(data, side=2048)
        started = time.perf_counter()
        objects = detector.detect([on_white(picture)], whole=[cut_out(picture)])[0]
        timing["detect"].append(time.perf_counter() - started)
        started = time.perf_counter()
        lines = reader.read(picture)
        timing["read"].append(time.perf_counter() - started)
        read = [TextRead(line.text, line.confidence) for line in lines]
        with Image.open(io.BytesIO(data)) as header:
            facts = Facts(*header.size)
        said = describer.describe(load_reduced(data), labels, facts, objects=objects, text=read)
        out["embeddings"].append(outputs.embeddings[0])
        out["features"].append(outputs.features[0])
        out["objects"].append(objects)
        out["text"].append(read)
        out["alt"].append(said.alt)
        out["long"].append(said.long)
        out["said"].append(said.evidence["said_objects"])
    out["embeddings"] = np.stack(out["embeddings"])
    out["features"] = np.stack(out["features"])
    out["timing"] = {k: (1000 * float(np.mean(v)), 1000 * float(np.percentile(v, 90))) for k, v in timing.items()}
    return out


def words_index(seen: dict, ids: list[str], folder: Path) -> LexicalIndex:
    rows = []
    for image_id, said, read, alt, long in zip(ids, seen["said"], seen["text"], seen["alt"], seen["long"], strict=True):
        counted = " ".join(f"{NUMBERS[min(s['count'], 6)]} {objects_text([s['name']])}" for s in said)
        text = " ".join(t.text for t in read)
        rows.append(
            {
                "image_id": image_id,
                "objects": counted,
                "text": text,
                "description": f"{alt}. {long}",
                "source": "",
                "misread": words_in_no_dictionary(text),
            }
        )
    return LexicalIndex(LexicalIndex.build(rows, folder / "words.sqlite"))


def lexical_matrix(index: LexicalIndex, captions: list[str], ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """BM25 per caption × image, and whether the image's text read holds every word of the caption."""
    position = {image_id: i for i, image_id in enumerate(ids)}
    out = np.zeros((len(captions), len(ids)), np.float32)
    exact = np.zeros_like(out)
    for q, caption in enumerate(captions):
        for hit in index.search(caption, k=len(ids)):
            out[q, position[hit.image_id]] = hit.score
            exact[q, position[hit.image_id]] = hit.exact
    return out, exact


def recall(scores: np.ndarray, owners: list[int]) -> dict[str, float]:
    return recall_at(ranks_of_positives(scores, [{o} for o in owners]))


def objective(r: dict[str, float]) -> float:
    return (r["R@1"] + r["R@5"] + r["R@10"]) / 3


def cross_validate(score_for, grid, owners: np.ndarray, folds: int) -> tuple[dict[str, float], list]:
    """Held-out recall with the grid value chosen on the other folds' captions; ``score_for(v)`` gives the
    (queries × gallery) scores for value ``v``."""
    images = np.unique(owners)
    rng = np.random.default_rng(0)
    fold_of = dict(zip(rng.permutation(images), np.arange(len(images)) % folds, strict=True))
    fold = np.array([fold_of[o] for o in owners])
    cache = {v: score_for(v) for v in grid}
    held_ranks, chosen = [], []
    for f in range(folds):
        train, test = fold != f, fold == f
        best = max(grid, key=lambda v: objective(recall(cache[v][train], list(owners[train]))))
        chosen.append(best)
        held_ranks.append(ranks_of_positives(cache[best][test], [{o} for o in owners[test]]))
    return recall_at(np.concatenate(held_ranks)), chosen


def _folds(items: np.ndarray, folds: int, seed: int) -> dict[int, int]:
    rng = np.random.default_rng(seed)
    return dict(zip(rng.permutation(items), np.arange(len(items)) % folds, strict=True))


def _ridge(x: np.ndarray, y: np.ndarray, strength: float) -> np.ndarray:
    """Ridge weights in the dual form (far fewer training images than feature dimensions)."""
    return x.T @ np.linalg.solve(x @ x.T + strength * np.eye(len(x)), y)


def _normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def adapter_cross_validated(
    queries: np.ndarray, owners: np.ndarray, base: np.ndarray, features: np.ndarray, folds: int
) -> tuple[dict[str, float], list]:
    """Held-out recall of ``normalise(base + beta * normalise(features @ W))``, ``W`` a ridge fit to each training
    image's mean caption embedding; (strength, beta) chosen by an inner CV inside the training images."""
    targets = np.zeros((len(base), queries.shape[1]), np.float64)
    np.add.at(targets, owners, queries)
    targets = _normalised(targets).astype(np.float64)
    x = features.astype(np.float64)
    grid = [(s, b) for s in (0.01, 0.1, 1.0) for b in (0.1, 0.25, 0.5, 1.0)]

    def scores(train: np.ndarray, strength: float, beta: float, rows: np.ndarray) -> np.ndarray:
        w = _ridge(x[train], targets[train], strength)
        return queries[rows] @ _normalised(base + beta * _normalised(x @ w)).T

    images = np.unique(owners)
    outer = _folds(images, folds, 0)
    held, chosen = [], []
    for f in range(folds):
        train_images = np.array([i for i in images if outer[i] != f])
        inner = _folds(train_images, folds - 1, 1)

        def inner_objective(params, train_images=train_images, inner=inner):
            ranks = []
            for g in range(folds - 1):
                fit = np.array([i for i in train_images if inner[i] != g])
                rows = np.flatnonzero(np.isin(owners, [i for i in train_images if inner[i] == g]))
                ranks.append(ranks_of_positives(scores(fit, *params, rows), [{o} for o in owners[rows]]))
            return objective(recall_at(np.concatenate(ranks)))

        best = max(grid, key=inner_objective)
        chosen.append(best)
        rows = np.flatnonzero(np.isin(owners, [i for i in images if outer[i] == f]))
        held.append(ranks_of_positives(scores(train_images, *best, rows), [{o} for o in owners[rows]]))
    return recall_at(np.concatenate(held)), chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coco", type=Path, default=coco_root(), help="default: $GLIMPSE_COCO or ../shared")
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--detector", choices=NAMES, default=DEFAULT)
    args = parser.parse_args()
    bundle = args.bundle or ROOT / json.loads((ROOT / "data/06_models/model_bundle.json").read_text())["folder"]
    coco = load_coco_captions(args.coco)
    paths = coco.image_paths + coco.distractor_paths
    ids = [p.stem for p in paths]
    started = time.perf_counter()
    seen = look(paths, bundle, args.detector)
    text_encoder = OnnxTextEncoder(bundle, threads=2)
    queries = text_encoder.encode_queries(coco.captions)  # worded by the bundle's query prompt, as served
    typed = text_encoder.encode_texts(coco.captions)  # as typed: what the prompt adds
    owners = np.array(coco.caption_image)
    sentences = {
        "objects": [seen_sentence(objects) for objects in seen["objects"]],
        "objects, text": [
            seen_sentence(o, [line.text for line in t]) for o, t in zip(seen["objects"], seen["text"], strict=True)
        ],
        "alt": seen["alt"],
        "long": seen["long"],
    }
    vectors = {name: seen_vectors(text_encoder, texts) for name, texts in sentences.items()}
    image = seen["embeddings"]
    prompt = text_encoder.manifest.text.query_prompt
    rows = [
        ("dense, queries as typed (before)", recall(typed @ image.T, list(owners)), "-"),
        (f"dense, queries worded {prompt!r}", recall(queries @ image.T, list(owners)), "-"),
    ]
    for name, vec in vectors.items():
        result, chosen = cross_validate(lambda a, vec=vec: queries @ blend(image, vec, a).T, BLENDS, owners, args.folds)
        rows.append((f"+ seen ({name})", result, ", ".join(f"{c:g}" for c in chosen)))
    held = held_out_set(args.coco) if (args.coco / "distractors").is_dir() else None
    with tempfile.TemporaryDirectory() as tmp:
        index = words_index(seen, ids, Path(tmp))
        lexical, exact = lexical_matrix(index, coco.captions, ids)
        if held:
            held_lexical, held_exact = lexical_matrix(index, held.captions, ids)
    for name in ("objects, text", "long"):
        vec = vectors[name]

        def fused(params, vec=vec):
            a, w = params
            return fuse(queries @ blend(image, vec, a).T, lexical, w)

        grid = [(a, w) for a in BLENDS for w in FUSIONS]
        result, chosen = cross_validate(fused, grid, owners, args.folds)
        rows.append((f"+ seen ({name}) + words", result, ", ".join(f"{a:g}/{w:g}" for a, w in chosen)))
        if name == "objects, text":  # what the server does: the same, plus the exact-words rule (not fitted)
            result, chosen = cross_validate(lambda p, f=fused: f(p) + EXACT_WEIGHT * exact, grid, owners, args.folds)
            label = f"+ seen ({name}) + words + every word in text read ({EXACT_WEIGHT:g})"
            rows.append((label, result, ", ".join(f"{a:g}/{w:g}" for a, w in chosen)))

            def fused_typed(params, vec=vec):
                a, w = params
                return fuse(typed @ blend(image, vec, a).T, lexical, w) + EXACT_WEIGHT * exact

            result, chosen = cross_validate(fused_typed, grid, owners, args.folds)
            label = "the same with queries as typed (no query prompt)"
            rows.append((label, result, ", ".join(f"{a:g}/{w:g}" for a, w in chosen)))
    result, chosen = adapter_cross_validated(
        queries, owners, blend(image, vectors["objects, text"], SERVED["seen_blend"]), seen["features"], args.folds
    )
    label = (
        f"+ seen (objects, text) at {SERVED['seen_blend']:g} + caption adapter (ridge on image features, fitted "
        "per fold)"
    )
    rows.append((label, result, ", ".join(f"{s:g}/{b:g}" for s, b in chosen)))
    result, _ = cross_validate(lambda w: fuse(queries @ image.T, lexical, w), FUSIONS, owners, args.folds)
    rows.append(("dense + words (no blend)", result, "-"))
    rows.append(("words alone", recall(lexical, list(owners)), "-"))

    print(
        f"coco-mini: {len(coco.captions)} captions, gallery {len(paths)}; bundle {bundle.name}; {args.folds}-fold CV\n"
    )
    print("| ingredients | R@1 | R@5 | R@10 | chosen per fold (blend / fusion weight) |")
    print("|---|---|---|---|---|")
    for name, r, chosen in rows:
        print(f"| {name} | {r['R@1']:.3f} | {r['R@5']:.3f} | {r['R@10']:.3f} | {chosen} |")
    if held:
        # Weights fitted on all of coco-mini's captions, measured on photos and captions nothing was fitted on.
        vec = vectors["objects, text"]
        grid = [(a, w) for a in BLENDS for w in FUSIONS]
        served = lambda p, q, lex, ex: fuse(q @ blend(image, vec, p[0]).T, lex, p[1]) + EXACT_WEIGHT * ex  # noqa: E731
        fitted = max(grid, key=lambda p: objective(recall(served(p, queries, lexical, exact), list(owners))))
        held_queries = text_encoder.encode_queries(held.captions)
        held_owners = [ids.index(held.image_paths[i].stem) for i in held.caption_image]
        held_rows = [
            ("dense", held_queries @ image.T),
            (f"+ seen (objects, text) at {fitted[0]:g}", held_queries @ blend(image, vec, fitted[0]).T),
            (
                f"+ words at {fitted[1]:g} + every word in text read",
                served(fitted, held_queries, held_lexical, held_exact),
            ),
            (
                f"the served weights ({SERVED['seen_blend']:g} / {SERVED['words_weight']:g})",
                served((SERVED["seen_blend"], SERVED["words_weight"]), held_queries, held_lexical, held_exact),
            ),
            ("words alone", held_lexical),
        ]
        print(
            f"\nHeld out: {len(held.captions)} captions written for the {len(held.image_paths)} distractors "
            "(bench/held_out.py), same gallery; weights fitted on all of coco-mini's captions\n"
        )
        print("| ingredients | R@1 | R@5 | R@10 |\n|---|---|---|---|")
        for name, scores in held_rows:
            r = recall(scores, held_owners)
            print(f"| {name} | {r['R@1']:.3f} | {r['R@5']:.3f} | {r['R@10']:.3f} |")

    captions_of: dict[int, list[str]] = {}
    for caption, owner in zip(coco.captions, coco.caption_image, strict=True):
        captions_of.setdefault(owner, []).append(caption.lower())
    with_people = [i for i, caps in captions_of.items() if sum(bool(PEOPLE.search(c)) for c in caps) >= 2]
    named = [i for i in with_people if re.search(r"\b(people|person)\b", seen["alt"][i].lower())]
    print(f"\nPeople named in alt: {len(named)} of {len(with_people)} photos whose captions (≥ 2 of 5) mention people")
    detect, read = seen["timing"]["detect"], seen["timing"]["read"]
    print(
        f"Detector {detect[0]:.0f} ms per photo (p90 {detect[1]:.0f}); text reader {read[0]:.0f} ms (p90 {read[1]:.0f})"
    )
    print(f"Photos with text read: {sum(bool(t) for t in seen['text'])} of {len(paths)}")
    print(f"Total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
