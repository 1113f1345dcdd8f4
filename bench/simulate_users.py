"""Simulated users: search a running Glimpse server with coco-mini captions and vote like people would.

Each user is its own HTTP client, so the server gives each an anonymous session cookie. A user searches a
caption and, when the caption's own photo is among the results, votes it up and votes down the wrong results
ranked above it (at most ``down``); when it is missing, the top result is voted down. ``noise`` flips a vote's
sign with that probability; ``random_votes`` instead votes a random sign on a random result (the control arm).
A 429 answer is waited out (Retry-After) and retried.

Run: .venv/bin/python bench/simulate_users.py --base-url http://127.0.0.1:8000 --captions 0,1,2
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from models.evaluation import coco_root

COCO = coco_root()


@dataclass
class Outcome:
    searches: int = 0
    hits: int = 0  # the caption's photo was among the results
    up: int = 0
    down: int = 0
    duplicates: int = 0
    waited_s: float = 0.0
    model_versions: set[str] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "searches": self.searches,
            "hit_rate": round(self.hits / self.searches, 4) if self.searches else None,
            "votes_up": self.up,
            "votes_down": self.down,
            "duplicates": self.duplicates,
            "waited_s": round(self.waited_s, 1),
            "model_versions": sorted(self.model_versions),
        }


def coco_queries(coco: Path, captions: Iterable[int]) -> list[tuple[str, str]]:
    """(caption, image id) for the chosen caption positions (0–4) of every captioned coco-mini photo."""
    from pipeline.pipelines.ingest.image_file import image_id_for

    data = json.loads((coco / "captions_train2017.json").read_text())
    files = {image["id"]: coco / "train2017" / image["file_name"] for image in data["images"]}
    ids = {key: image_id_for(path.read_bytes()) for key, path in files.items()}
    by_image: dict[int, list[str]] = {}
    for note in sorted(data["annotations"], key=lambda a: a["id"]):
        by_image.setdefault(note["image_id"], []).append(note["caption"].strip())
    wanted = list(captions)
    return [(texts[i], ids[key]) for key, texts in sorted(by_image.items()) for i in wanted if i < len(texts)]


def _send(client: httpx.Client, method: str, url: str, outcome: Outcome, **kwargs) -> httpx.Response:
    for _ in range(20):
        response = client.request(method, url, **kwargs)
        if response.status_code != 429:
            return response
        wait = float(response.headers.get("retry-after", "1"))
        outcome.waited_s += wait
        time.sleep(wait)
    raise RuntimeError(f"{url}: still rate-limited after 20 tries")


def play(
    make_client: Callable[[], httpx.Client],
    queries: list[tuple[str, str]],
    *,
    users: int = 20,
    k: int = 10,
    down: int = 1,
    noise: float = 0.0,
    random_votes: bool = False,
    model: str | None = "production",
    seed: int = 0,
) -> Outcome:
    """Play ``queries`` (caption, true image id) round-robin over ``users`` sessions; returns what happened.
    ``model=None`` asks for no model, so the server's A/B split picks each session's version."""
    rng = random.Random(seed)
    outcome = Outcome()
    clients = [make_client() for _ in range(users)]
    try:
        for n, (caption, truth) in enumerate(queries):
            client = clients[n % users]
            params = {"q": caption, "k": k} | ({"model": model} if model is not None else {})
            response = _send(client, "GET", "/api/search", outcome, params=params)
            response.raise_for_status()
            answer = response.json()
            outcome.searches += 1
            outcome.model_versions.add(answer["model"]["version"])
            results = [r["image_id"] for r in answer["results"]]
            votes: list[tuple[str, int, int]] = []  # (image id, ±1, rank)
            outcome.hits += truth in results
            if random_votes:
                if results:
                    rank = rng.randrange(len(results))
                    votes.append((results[rank], rng.choice((1, -1)), rank + 1))
            elif truth in results:
                rank = results.index(truth)
                votes.append((truth, 1, rank + 1))
                votes += [(results[i], -1, i + 1) for i in range(min(rank, down))]
            elif results:
                votes.append((results[0], -1, 1))
            for image_id, vote, rank in votes:
                if noise and rng.random() < noise:
                    vote = -vote
                body = {
                    "image_id": image_id,
                    "vote": vote,
                    "query": caption,
                    "rank": rank,
                    "model_version": answer["model"]["version"],
                }
                posted = _send(client, "POST", "/api/feedback", outcome, json=body)
                if posted.status_code == 200 and posted.json().get("duplicate"):
                    outcome.duplicates += 1
                elif posted.status_code != 201:
                    raise RuntimeError(f"feedback refused: {posted.status_code} {posted.text}")
                if vote > 0:
                    outcome.up += 1
                else:
                    outcome.down += 1
    finally:
        for client in clients:
            client.close()
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--coco", type=Path, default=COCO)
    parser.add_argument("--captions", default="0,1,2", help="caption positions to play, 0–4")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--down", type=int, default=1)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--random-votes", action="store_true")
    parser.add_argument("--model", default="production", help="'' to ask for none (the server's A/B split decides)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    queries = coco_queries(args.coco, [int(c) for c in args.captions.split(",")])
    outcome = play(
        lambda: httpx.Client(base_url=args.base_url, timeout=30),
        queries,
        users=args.users,
        k=args.k,
        down=args.down,
        noise=args.noise,
        random_votes=args.random_votes,
        model=args.model or None,
        seed=args.seed,
    )
    print(json.dumps(outcome.as_dict(), indent=2))


if __name__ == "__main__":
    main()
