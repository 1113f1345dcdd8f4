"""Text→image recall asked through the API, as a user would search: every caption of a folder in the coco-mini
layout (``captions_train2017.json``, ``train2017/``, optional ``distractors/``) is sent to ``/api/search`` and
the rank of its own photo is read from the answer, beside what each answer cost.

In a scratch project (never inside the repo; the photos are read where they are, not copied) it builds the
collection with `kedro run` (the default model, the repo's exported ONNX bundle), serves it with uvicorn on
loopback and asks for the top 10 of every caption. The figures include everything the server does: the
query prompt, the int8 query graph, the blend with what was seen, the word search and its exact-words rule.

Point it at held-out photos with ``--coco /path/to/folder`` (or ``GLIMPSE_COCO``); the default is coco-mini,
which the served weights were fitted on (bench/perception.py gives its cross-validated figures). ``--held-out``
asks instead with the captions written for coco-mini's distractors, photos nothing was fitted on
(bench/held_out.py); ``--signs`` with the words a person would type to find a photo by the text in it.

Several ``--spec`` build and serve one collection each and ask them in turns of 20 captions, so their
recall and their costs (the server's own timings per stage, and the round trip over loopback) compare in one
run on a machine whose speed drifts: how much a larger text space gains, and what it costs each query.

Run: .venv/bin/python bench/api_recall.py [--coco FOLDER | --held-out | --signs] [--spec SPEC ...] [--workdir DIR]
     [--keep]
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.feedback_loop import KS, ask, hits_at, kedro, scratch_project, serve
from bench.held_out import sign_words_set, write_coco_layout
from bench.simulate_users import coco_queries
from models.evaluation import coco_root
from server.core.config import Settings

# Captions a spec answers before the next takes its turn. Asked one caption each in turn, mpnet's encoding p50 was
# 27.0 ms against 13.8 in turns of 20 (MiniLM's 3.8 against 3.7): switching servers every answer measures the
# switch (the other server's spinning threads, weights fallen out of the CPU caches), not the model.
TURN = 20


class Served:
    """One spec's collection, its server and what its answers scored and cost."""

    def __init__(self, project: Path, coco: Path, spec: str | None) -> None:
        self.project = project
        params = scratch_project(project, coco)
        if spec:
            params["model.spec"] = spec
        self.build_s = kedro(project, params)
        self.spec = spec or ""
        self.hits = dict.fromkeys(KS, 0)
        self.asked: list[tuple[str, dict[int, bool]]] = []  # (the photo asked for, hits at each k) per caption
        self.stages: dict[str, list[float]] = {"encode": [], "server": [], "http": []}

    def ask(self, client: httpx.Client, caption: str, truth: str) -> None:
        started = time.perf_counter()
        answer = ask(client, caption)
        self.stages["http"].append((time.perf_counter() - started) * 1000)
        self.spec = answer["model"]["spec"]
        self.stages["encode"].append(answer["timings_ms"]["encode"])
        self.stages["server"].append(sum(answer["timings_ms"].values()))
        hits = hits_at(answer, truth)
        self.asked.append((truth, hits))
        for k, hit in hits.items():
            self.hits[k] += hit

    def intervals(self) -> str:
        """The 95 % interval of each recall, photos resampled (``photo_interval``)."""
        photos = [truth for truth, _ in self.asked]
        spans = [photo_interval([hits[k] for _, hits in self.asked], photos) for k in KS]
        return f"- {self.spec}: " + ", ".join(f"R@{k} {lo:.3f}–{hi:.3f}" for k, (lo, hi) in zip(KS, spans, strict=True))

    def row(self, asked: int) -> str:
        figures = [f"{self.hits[k] / asked:.3f}" for k in KS]
        costs = [" / ".join(f"{v:.1f}" for v in np.percentile(self.stages[s], [50, 99])) for s in self.stages]
        return f"| {self.spec} | " + " | ".join(figures + costs) + f" | {self.build_s:.0f} s |"


def photo_interval(hits: list[bool], photos: list[str], draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % bootstrap interval of the share of ``hits`` (one per caption), resampling the photos asked for with all
    their captions: five captions of one photo are not five independent trials. Two captions of 400 are half a
    point of recall; this says how far a figure may move with other photos like these."""
    names, photo_of = np.unique(np.asarray(photos), return_inverse=True)
    found = np.bincount(photo_of, weights=np.asarray(hits, float), minlength=len(names))
    asked = np.bincount(photo_of, minlength=len(names))
    pick = np.random.default_rng(seed).integers(0, len(names), (draws, len(names)))
    shares = found[pick].sum(axis=1) / asked[pick].sum(axis=1)
    low, high = np.percentile(shares, [2.5, 97.5])
    return float(low), float(high)


def slug(spec: str | None) -> str:
    return re.sub(r"\W+", "-", spec or "default")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coco", type=Path, default=None, help="a folder in the coco-mini layout")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch project folder (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch project")
    parser.add_argument("--held-out", action="store_true", help="coco-mini's distractors with their written captions")
    parser.add_argument("--signs", action="store_true", help="photos with text, asked for by the words in them")
    parser.add_argument(
        "--spec",
        action="append",
        default=None,
        help="a model spec to build and serve (default: the pipeline's); give several to compare them in one run",
    )
    args = parser.parse_args()
    coco = (args.coco or coco_root()).resolve()
    if not (coco / "captions_train2017.json").exists():
        raise SystemExit(f"{coco} has no captions_train2017.json (a folder in the coco-mini layout is needed)")
    if (args.held_out or args.signs) and not (coco / "distractors").is_dir():
        raise SystemExit(f"--held-out and --signs need coco-mini's distractors/ folder, and {coco} has none")
    specs = args.spec or [None]
    project = args.workdir or Path(tempfile.mkdtemp(prefix="glimpse-api-recall-"))
    servers = []
    try:
        if args.held_out:
            coco = write_coco_layout(coco, project / "held-out")
        elif args.signs:
            coco = write_coco_layout(coco, project / "signs", sign_words_set(coco))
        folders = [project] if len(specs) == 1 else [project / f"{n}-{slug(spec)}" for n, spec in enumerate(specs)]
        served = [Served(folder, coco, spec) for folder, spec in zip(folders, specs, strict=True)]
        queries = coco_queries(coco, range(5))
        photos = sum(1 for p in coco.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        for one in served:
            # The served alias re-read as in production, not before every answer as the feedback loop needs.
            env = {"GLIMPSE_COLLECTION_ROOT": str(coco), "GLIMPSE_ALIAS_REFRESH_S": str(Settings().alias_refresh_s)}
            servers.append(serve(one.project, one.project / "data/feedback/votes.db", **env))
        clients = [httpx.Client(base_url=server.base_url, timeout=30) for server in servers]
        for start in range(0, len(queries), TURN):  # the specs take turns, so the machine's drift hits them alike
            for one, client in zip(served, clients, strict=True):
                for caption, truth in queries[start : start + TURN]:
                    one.ask(client, caption, truth)
        for client in clients:
            client.close()
        print(f"## Text→image through the API: {coco.name} ({len(queries)} captions, {photos} photos in the gallery)\n")
        print("| model | R@1 | R@5 | R@10 | encode ms p50 / p99 | server ms p50 / p99 | HTTP ms p50 / p99 | built in |")
        print("|---|---|---|---|---|---|---|---|")
        for one in served:
            print(one.row(len(queries)))
        print("\nOne client on loopback, one caption at a time; server ms is the sum of the answer's timings_ms.")
        print("95 % intervals, photos resampled with all their captions (2000 draws):\n")
        for one in served:
            print(one.intervals())
    finally:
        for server in servers:
            server.stop(grace_s=30)
        if not args.keep and args.workdir is None:
            shutil.rmtree(project, ignore_errors=True)


if __name__ == "__main__":
    main()
