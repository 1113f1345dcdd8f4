"""Typed queries with a typo, asked through the API with and without respelling (models/spelling.py).

Every caption of coco-mini (400) and of the held-out distractors (400, bench/held_out.py) is asked as written
and with one typo of each kind in one of its longer lower-case words: two neighbouring letters swapped, a letter
dropped, a letter added, a letter replaced (the word and the place drawn with the caption's number as the seed,
so every run asks the same typos). Each is asked with `spell=false` (searched as typed) and with the default
respelling; the table gives R@1/5/10 and how many answers were respelled. Respelling must leave the captions as
written as they are and win back what the typos cost.

In a scratch project (never inside the repo; coco-mini is read where it is) it builds the 160-photo collection
with `kedro run` and serves it on loopback, as bench/api_recall.py does; both caption sets ask for photos of it.

Run: .venv/bin/python bench/typos.py [--workdir DIR] [--keep] (about 5 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from pathlib import Path

import httpx

from bench.feedback_loop import KS, hits_at, kedro, scratch_project, serve, unvoted_queries
from bench.simulate_users import COCO, coco_queries

KINDS = ("swapped", "dropped", "added", "replaced")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def with_typo(caption: str, kind: str, seed: int) -> str:
    """``caption`` with one typo of ``kind`` in one of its lower-case words of five letters or more (the first
    and last letters kept, as people mistype the middle); unchanged when it has no such word."""
    rng = random.Random(seed)
    words = caption.split()
    longer = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha() and w.islower()]
    if not longer:
        return caption
    i = rng.choice(longer)
    word, j = words[i], rng.randrange(1, len(words[i]) - 1)
    if kind == "swapped":  # two different letters, neither the first nor the last
        j = rng.choice([n for n in range(1, len(word) - 2) if word[n] != word[n + 1]] or [1])
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    elif kind == "dropped":
        word = word[:j] + word[j + 1 :]
    elif kind == "added":
        word = word[:j] + rng.choice(_LETTERS) + word[j:]
    elif kind == "replaced":
        word = word[:j] + rng.choice(_LETTERS.replace(word[j], "")) + word[j + 1 :]
    else:
        raise ValueError(f"unknown kind of typo {kind!r}")
    words[i] = word
    return " ".join(words)


def recall(
    client: httpx.Client, queries: list[tuple[str, str]], spell: bool, written: list[str]
) -> tuple[list[float], int, int]:
    """R@k for each k of KS, how many answers say they were respelled, and how many of those searched the
    caption as written (``written[i]`` for ``queries[i]``)."""
    hits, respelled, restored = dict.fromkeys(KS, 0), 0, 0
    for (caption, truth), original in zip(queries, written, strict=True):
        response = client.get("/api/search", params={"q": caption, "k": max(KS), "spell": str(spell).lower()})
        response.raise_for_status()
        answer = response.json()
        if answer.get("typed") is not None:
            respelled += 1
            restored += answer["query"] == " ".join(original.split())
        for k, hit in hits_at(answer, truth).items():
            hits[k] += hit
    return [hits[k] / len(queries) for k in KS], respelled, restored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scratch project folder (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch project")
    args = parser.parse_args()
    if not (COCO / "distractors").is_dir():
        raise SystemExit(f"{COCO} is not coco-mini with its distractors (set GLIMPSE_COCO)")
    project = args.workdir or Path(tempfile.mkdtemp(prefix="glimpse-typos-"))
    kedro(project, scratch_project(project, COCO))
    sets = {"held-out photos": unvoted_queries(COCO), "coco-mini": coco_queries(COCO, range(5))}
    server = serve(project, project / "data/feedback/typos.db")
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            for name, queries in sets.items():
                print(f"\n## {name}: {len(queries)} captions, 160 photos in the gallery\n")
                print(
                    "| captions | with a typo | as typed R@1 / R@5 / R@10 | respelled R@1 / R@5 / R@10 "
                    "| answers respelled | of them, the caption as written |"
                )
                print("|---|---|---|---|---|---|")
                written = [q for q, _ in queries]
                for kind in ("as written", *KINDS):
                    asked = (
                        queries
                        if kind == "as written"
                        else [(with_typo(q, kind, n), truth) for n, (q, truth) in enumerate(queries)]
                    )
                    changed = sum(a != q for (a, _), q in zip(asked, written, strict=True))
                    typed, _, _ = recall(client, asked, False, written)
                    fixed, respelled, restored = recall(client, asked, True, written)
                    figures = " | ".join(" / ".join(f"{v:.3f}" for v in row) for row in (typed, fixed))
                    print(f"| {kind} | {changed} | {figures} | {respelled} | {restored} |", flush=True)
    finally:
        server.stop(grace_s=30)
        if not args.keep and args.workdir is None:
            shutil.rmtree(project, ignore_errors=True)


if __name__ == "__main__":
    main()
