"""Choose the offline default's settings by measurement: EfficientNet-Lite variant × top-T × prompts.

Prints text→image and image→text Recall@1/5/10 on coco-mini (gallery: 80 captioned + 80 distractors) for
each setting, with the random-vector floor, and image→image precision on Tux Paint stamp folders for the
ConSE space against the classifier's own pooled features.

Run: .venv/bin/python bench/conse_sweep.py [--coco DIR (default $GLIMPSE_COCO)] [--stamps data/01_raw/demo]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from models.encoders.base import l2_normalise
from models.encoders.conse import ConSEConfig, ConSEEncoder
from models.evaluation import coco_root, image_to_text_recall, load_coco_captions, text_to_image_recall

PROMPT_SETS = {
    "photo": ("a photo of a {}.",),
    "bare": ("{}",),
    "three": ("a photo of a {}.", "a picture of a {}.", "a close-up photo of the {}."),
}


def pixels(encoder: ConSEEncoder, paths: list[Path]) -> np.ndarray:
    return np.stack([encoder.preprocess.load(p.read_bytes()) for p in paths])


def conse_from_logits(logits: np.ndarray, class_emb: np.ndarray, top_t: int) -> np.ndarray:
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    top = np.argsort(-probs, axis=1)[:, :top_t]
    weights = np.take_along_axis(probs, top, 1)
    return l2_normalise((weights[..., None] * class_emb[top]).sum(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--coco", type=Path, default=coco_root(), help="default: $GLIMPSE_COCO or ../shared")
    parser.add_argument("--stamps", type=Path, default=Path("data/01_raw/demo/tuxpaint-stamps"))
    parser.add_argument("--variants", default="0,1,2")
    parser.add_argument("--tops", default="1,3,5,10,20,50,1000")
    args = parser.parse_args()
    data = load_coco_captions(args.coco)
    stamp_paths = sorted(args.stamps.rglob("*.png")) if args.stamps.exists() else []
    stamp_groups = [p.parent.relative_to(args.stamps).as_posix() for p in stamp_paths]
    rng = np.random.default_rng(0)
    floor_t = l2_normalise(rng.normal(size=(len(data.captions), 384)))
    floor_g = l2_normalise(rng.normal(size=(len(data.image_paths) + len(data.distractor_paths), 384)))
    print(f"coco-mini: {len(data.captions)} captions, gallery {len(floor_g)} images; stamps: {len(stamp_paths)}")
    print(f"random floor  t→i {fmt(text_to_image_recall(floor_t, floor_g, data.caption_image))}")
    rows = []
    for variant in map(int, args.variants.split(",")):
        encoder = ConSEEncoder(ConSEConfig(variant=variant))
        started = time.perf_counter()
        gallery_px = pixels(encoder, data.image_paths + data.distractor_paths)
        with torch.inference_mode():
            logits = encoder.image_model.classifier(torch.from_numpy(gallery_px)).numpy()
        print(f"lite{variant}: gallery encoded in {time.perf_counter() - started:.1f} s")
        text_emb = encoder.encode_texts(data.captions)
        for prompt_name, prompts in PROMPT_SETS.items():
            per = [encoder.encode_texts([p.format(n) for n in encoder.class_names]) for p in prompts]
            class_emb = l2_normalise(np.mean(per, axis=0))
            for top_t in map(int, args.tops.split(",")):
                gallery = conse_from_logits(logits, class_emb, top_t)
                t2i = text_to_image_recall(text_emb, gallery, data.caption_image)
                i2t = image_to_text_recall(gallery[: len(data.image_paths)], text_emb, data.caption_image)
                rows.append((variant, prompt_name, top_t, t2i, i2t))
                print(f"lite{variant} {prompt_name:6s} T={top_t:<4d} t→i {fmt(t2i)}   i→t {fmt(i2t)}")
        if stamp_paths:
            stamp_px = pixels(encoder, stamp_paths)
            with torch.inference_mode():
                stamp_logits = encoder.image_model.classifier(torch.from_numpy(stamp_px)).numpy()
            conse_space = conse_from_logits(stamp_logits, encoder.class_embeddings, encoder.config.top_t)
            own = encoder.image_features(stamp_px)
            for name, space in (("ConSE space", conse_space), ("pooled features", own)):
                score = precision_at(space, stamp_groups, 5)
                print(f"lite{variant} image→image P@5 (same stamp folder), {name}: {score:.3f}")


def precision_at(emb: np.ndarray, groups: list[str], k: int) -> float:
    scores = emb @ emb.T
    np.fill_diagonal(scores, -np.inf)
    top = np.argsort(-scores, axis=1)[:, :k]
    labels = np.asarray(groups)
    return float(np.mean(labels[top] == labels[:, None]))


def fmt(metrics: dict[str, float]) -> str:
    return " ".join(f"{k} {v * 100:5.1f}" for k, v in metrics.items())


if __name__ == "__main__":
    main()
