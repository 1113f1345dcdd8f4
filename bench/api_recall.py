"""Text→image recall asked through the API, as a user would search: every caption of a folder in the coco-mini
layout (``captions_train2017.json``, ``train2017/``, optional ``distractors/``) is sent to ``/api/search`` and
the rank of its own photo is read from the answer.

In a scratch project (never inside the repo; the photos are read where they are, not copied) it builds the
collection with `kedro run` (the default model, the repo's exported ONNX bundle), serves it with uvicorn on
loopback and asks for the top 10 of every caption. The figures include everything the server does: the
query prompt, the int8 query graph, the blend with what was seen, the word search and its exact-words rule.

Point it at held-out photos with ``--coco /path/to/folder`` (or ``GLIMPSE_COCO``); the default is coco-mini,
which the served weights were fitted on (bench/perception.py gives its cross-validated figures). ``--held-out``
asks instead with the captions written for coco-mini's distractors, photos nothing was fitted on
(bench/held_out.py).

Run: .venv/bin/python bench/api_recall.py [--coco FOLDER | --held-out] [--spec SPEC] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.feedback_loop import kedro, recall, scratch_project, serve
from bench.held_out import write_coco_layout
from bench.simulate_users import coco_queries
from models.evaluation import coco_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coco", type=Path, default=None, help="a folder in the coco-mini layout")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch project folder (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch project")
    parser.add_argument("--held-out", action="store_true", help="coco-mini's distractors with their written captions")
    parser.add_argument("--spec", default=None, help="the model spec to build and serve (default: the pipeline's)")
    args = parser.parse_args()
    coco = (args.coco or coco_root()).resolve()
    if not (coco / "captions_train2017.json").exists():
        raise SystemExit(f"{coco} has no captions_train2017.json (a folder in the coco-mini layout is needed)")
    if args.held_out and not (coco / "distractors").is_dir():
        raise SystemExit(f"--held-out needs coco-mini's distractors/ folder, and {coco} has none")
    project = args.workdir or Path(tempfile.mkdtemp(prefix="glimpse-api-recall-"))
    try:
        if args.held_out:
            coco = write_coco_layout(coco, project / "held-out")
        params = scratch_project(project, coco)
        if args.spec:
            params["model.spec"] = args.spec
        seconds = kedro(project, params)
        queries = coco_queries(coco, range(5))
        photos = sum(1 for p in coco.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        server = serve(project, project / "data/feedback/votes.db", GLIMPSE_COLLECTION_ROOT=str(coco))
        try:
            figures = recall(server.base_url, queries, "1")
        finally:
            server.stop(grace_s=30)
        print(f"## Text→image through the API: {coco.name} ({len(queries)} captions, {photos} photos in the gallery)\n")
        print("| R@1 | R@5 | R@10 |\n|---|---|---|")
        row = " | ".join(f"{figures[k]:.3f}" for k in ("R@1", "R@5", "R@10"))
        print(f"| {row} |")
        print(f"\nCollection built in {seconds:.0f} s.")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(project, ignore_errors=True)


if __name__ == "__main__":
    main()
