"""Tune: learn a query adapter from the exported votes and register it as a new model version.

1. ``collect_votes``: every exported vote on a text query; per session only its latest vote on a (query, image)
   counts; the label of a (query, image) pair is the sign of the sum over sessions (ties dropped). Pairs are
   split by query text (a hash, so stable across runs): ``holdout_pct`` % of the queries are never trained on.
2. ``tune_adapter``: on top of the production version's encoder (its raw text encoder: an adapter is always
   learned afresh from all votes), train ``models.adapter`` on the training pairs against the collection's
   image embeddings; measure on the held-out queries (feedback Recall@K of their up-voted images, mean score of
   their down-voted ones) and on the evaluate pipeline's data, before (production as served) and after.
3. ``register_adapter``: a copy of the base bundle plus ``adapter.npy`` becomes a new registry version with
   alias ``candidate`` (the base's index serves it unchanged). It becomes ``production`` only if the held-out
   feedback mean reciprocal rank gained at least ``min_gain`` **and** the registry's promotion rule (not worse
   on the primary metrics) agrees; random or contradictory votes therefore never replace production.
An unchanged input (same votes, base version and settings) does nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

KS = (1, 5, 10)


def _holdout(query: str, pct: int) -> bool:
    return int(hashlib.sha256(query.encode("utf-8")).hexdigest(), 16) % 100 < pct


def read_exported_votes(folder: Path) -> pd.DataFrame:
    files = sorted(Path(folder).glob("date=*/feedback-*.parquet"))
    if not files:
        return pd.DataFrame(columns=["feedback_id", "session", "query_text", "image_id", "vote"])
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def collect_votes(feedback_export: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """One row per (query text, image) with a net label ±1, how many sessions voted, and its split."""
    from feature_repo.store import offline_dir

    raw = read_exported_votes(offline_dir(Path(params["store_root"])) / "feedback")
    raw = raw[raw["query_text"].notna()].sort_values("feedback_id")
    latest = raw.drop_duplicates(["session", "query_text", "image_id"], keep="last")
    pairs = latest.groupby(["query_text", "image_id"], as_index=False).agg(
        net=("vote", "sum"), sessions=("vote", "size")
    )
    pairs = pairs[pairs["net"] != 0].reset_index(drop=True)
    pairs["label"] = np.sign(pairs.pop("net")).astype(int)
    pct = int(params["holdout_pct"])
    pairs["split"] = ["holdout" if _holdout(q, pct) else "train" for q in pairs["query_text"]]
    logger.info(
        "tune: %d votes → %d (query, image) pairs (%d up, %d down), %d held out (up to export %s)",
        len(raw),
        len(pairs),
        int((pairs["label"] > 0).sum()),
        int((pairs["label"] < 0).sum()),
        int((pairs["split"] == "holdout").sum()),
        feedback_export.get("up_to_id"),
    )
    return pairs


def _ranks(queries: np.ndarray, gallery: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each query's target row among the gallery (ties count against the target)."""
    scores = queries @ gallery.T
    own = scores[np.arange(len(targets)), targets][:, None]
    return (scores >= own).sum(axis=1)


def feedback_metrics(queries: np.ndarray, gallery: np.ndarray, pairs: pd.DataFrame, rows: np.ndarray) -> dict:
    """Recall@K and mean reciprocal rank of the up-voted image for up-voted pairs, mean cosine of down-voted
    pairs. Up-votes are only given to results that were shown (rank ≤ k), so the base version's R@k on them is
    near 1 by construction; the reciprocal rank still has room to move and is what promotion looks at."""
    out: dict[str, float] = {}
    up, down = (pairs["label"] > 0).to_numpy(), (pairs["label"] < 0).to_numpy()
    if up.any():
        ranks = _ranks(queries[up], gallery, rows[up])
        out |= {f"fb_t2i_R@{k}": float(np.mean(ranks <= k)) for k in KS}
        out["fb_mrr"] = float(np.mean(1.0 / ranks))
        out["fb_up_pairs"] = int(up.sum())
    if down.any():
        out["fb_down_score"] = float(np.mean(np.sum(queries[down] * gallery[rows[down]], axis=1)))
        out["fb_down_pairs"] = int(down.sum())
    return out


def _fingerprint(votes: pd.DataFrame, base_version: str, params: dict[str, Any]) -> str:
    digest = hashlib.sha256(base_version.encode())
    digest.update(votes.sort_values(["query_text", "image_id"]).to_csv(index=False).encode())
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def tune_adapter(
    votes: pd.DataFrame,
    image_embeddings: pd.DataFrame,
    previous: dict[str, Any] | None,
    params: dict[str, Any],
    evaluate_params: dict[str, Any],
    registry_params: dict[str, Any],
) -> dict[str, Any]:
    from models.adapter import (
        ADAPTER_FILE,
        ADAPTER_META,
        AdaptedTextEncoder,
        AdapterConfig,
        apply_adapter,
        load_adapter,
        save_adapter,
        train_adapter,
    )
    from models.bundle import BundleManifest
    from models.registry import Registry
    from models.runtime import OnnxTextEncoder

    registry = Registry(
        registry_params["tracking_uri"], registry_params["artifact_root"], registry_params["model_name"]
    )
    base = registry.get(str(params["base"]))  # "production", "3" or 3 (kedro --params reads numbers)
    bundle = registry.bundle_path(base)
    # The encoder's own version (embeddings and indexes are keyed by it); a tuned base's registry tag is
    # "<bundle version>+a<adapter>", its manifest still names the bundle it was built on.
    bundle_version = BundleManifest.load(bundle).version
    fingerprint = _fingerprint(votes, base.version, params)
    if previous and previous.get("fingerprint") == fingerprint:
        logger.info("tune: nothing new since the last run (%s)", fingerprint)
        return previous
    report: dict[str, Any] = {
        "fingerprint": fingerprint,
        "base_version": base.version,
        "spec": base.spec,
        "base_bundle_version": bundle_version,
    }

    gallery_rows = image_embeddings[image_embeddings["model_version"] == bundle_version]
    ids = gallery_rows["image_id"].tolist()
    gallery = np.stack(gallery_rows["embedding"].to_numpy()).astype(np.float32) if ids else np.zeros((0, 1))
    row_of = {image_id: i for i, image_id in enumerate(ids)}
    usable = votes[votes["image_id"].isin(row_of)].reset_index(drop=True)
    train = usable[usable["split"] == "train"].reset_index(drop=True)
    holdout = usable[usable["split"] == "holdout"].reset_index(drop=True)
    report |= {
        "pairs_train": len(train),
        "pairs_holdout": len(holdout),
        "pairs_unknown_image": len(votes) - len(usable),
    }
    if int((train["label"] > 0).sum()) < int(params["min_up_votes"]):
        report["skipped"] = (
            f"{int((train['label'] > 0).sum())} up-voted training pairs, fewer than {params['min_up_votes']}"
        )
        logger.info("tune: skipped: %s", report["skipped"])
        return report

    # the query encoder as served, without any adapter: a new one is learned from all votes
    raw_text = OnnxTextEncoder(bundle, queries=True)
    current = load_adapter(bundle, raw_text.dim)  # production as served, for the "before" figures
    texts = sorted(set(usable["query_text"]))
    raw = dict(zip(texts, raw_text.encode_queries(texts), strict=True))

    def rows(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray([row_of[i] for i in frame["image_id"]], dtype=np.int64)

    queries = np.stack([raw[q] for q in train["query_text"]])
    config = AdapterConfig(
        **{k: params[k] for k in ("temperature", "l2", "steps", "lr", "down_weight", "down_margin", "seed")}
    )
    started = time.perf_counter()
    weights, losses = train_adapter(
        queries,
        np.where(train["label"] > 0, rows(train), -1),
        np.where(train["label"] < 0, rows(train), -1),
        gallery,
        config,
    )
    report["train_seconds"] = round(time.perf_counter() - started, 2)
    report["loss"] = [round(losses[0], 4), round(losses[-1], 4)]

    metrics: dict[str, float] = {}
    if len(holdout):
        held = np.stack([raw[q] for q in holdout["query_text"]])
        before = feedback_metrics(apply_adapter(current, held), gallery, holdout, rows(holdout))
        after = feedback_metrics(apply_adapter(weights, held), gallery, holdout, rows(holdout))
        metrics |= after | {f"base_{k}": v for k, v in before.items()}
    metrics |= _evaluation(AdaptedTextEncoder(raw_text, weights), bundle, evaluate_params)
    metrics["votes_up"] = int((usable["label"] > 0).sum())
    metrics["votes_down"] = int((usable["label"] < 0).sum())
    adapter_version = hashlib.sha256(weights.tobytes()).hexdigest()[:12]
    folder = Path(params["adapter_root"]) / f"{bundle_version}+a{adapter_version}"
    if folder.exists():
        shutil.rmtree(folder)
    # The base bundle's files are hard-linked where the file system allows (MLflow copies them anyway when
    # the version is registered); the base's own adapter, if any, is left out: this folder gets a new one.
    shutil.copytree(
        bundle, folder, copy_function=_link_or_copy, ignore=shutil.ignore_patterns(ADAPTER_FILE, ADAPTER_META)
    )
    save_adapter(
        folder,
        weights,
        {
            "base_version": base.version,
            "base_bundle_version": bundle_version,
            "pairs_train": len(train),
            "config": config.__dict__,
            "fingerprint": fingerprint,
        },
    )
    report |= {"adapter_version": adapter_version, "folder": str(folder), "metrics": metrics}
    logger.info(
        "tune: adapter %s, held-out feedback %s",
        adapter_version,
        {k: round(v, 3) for k, v in metrics.items() if k.startswith(("fb_", "base_fb_"))},
    )
    return report


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)


def _evaluation(text_encoder, bundle: Path, params: dict[str, Any]) -> dict[str, float]:
    """The evaluate pipeline's metrics (coco-mini, stamps) with the adapted text encoder."""
    from models.evaluation import evaluate_encoders
    from models.runtime import OnnxImageEncoder
    from pipeline.pipelines.evaluate.nodes import _stamps

    coco = Path(params["coco_root"])
    stamps = _stamps(Path(params["demo_manifest"]), params["stamps_collection"])
    return evaluate_encoders(text_encoder, OnnxImageEncoder(bundle), coco if coco.exists() else None, stamps)


def register_adapter(report: dict[str, Any], params: dict[str, Any], registry_params: dict[str, Any]) -> dict[str, Any]:
    """Register the tuned bundle as ``candidate``; promote it only on a real held-out gain (see module doc)."""
    from models.registry import CANDIDATE, PRODUCTION, Registry

    if "skipped" in report or "folder" not in report:
        return {"registered": False, "reason": report.get("skipped", "nothing tuned")}
    registry = Registry(
        registry_params["tracking_uri"], registry_params["artifact_root"], registry_params["model_name"]
    )
    base = registry.get(report["base_version"])
    key = f"{report['base_bundle_version']}+a{report['adapter_version']}"
    version = registry.register(Path(report["folder"]), report["spec"], key, report["metrics"])
    index_tags = {k: v for k, v in base.tags.items() if k.startswith("index_")}
    registry.tag(
        version.version, index_tags | {"base_model_version": base.version, "adapter_version": report["adapter_version"]}
    )
    registry.set_alias(CANDIDATE, version.version)
    metrics = report["metrics"]
    gain = metrics.get("fb_mrr", 0.0) - metrics.get("base_fb_mrr", 0.0)
    if "fb_mrr" not in metrics:
        promoted, reason = False, f"version {version.version} stays candidate: no held-out up-votes to measure it on"
    elif gain < float(params["min_gain"]):
        promoted, reason = (
            False,
            (
                f"version {version.version} stays candidate: held-out feedback MRR gained "
                f"{gain:+.3f}, less than {params['min_gain']}"
            ),
        )
    else:
        promoted, reason = registry.promote_if_not_worse(
            version.version, list(registry_params["primary_metrics"]), float(registry_params["promote_tolerance"])
        )
    logger.info("tune: %s", reason)
    return {
        "registered": True,
        "candidate": version.version,
        "production": registry.get(PRODUCTION).version,
        "promoted": promoted,
        "reason": reason,
        "fb_mrr_gain": round(gain, 4),
    }
