"""The feedback loop measured end to end: simulated users vote, `kedro run --pipelines tune` learns from the votes,
and held-out captions are searched through the API with the base and the tuned versions.

In a scratch project (never inside the repo; coco-mini is read from ../shared, not copied) it:
1. builds a collection of the 160 coco-mini photos with the default model (`kedro run`, reusing the repo's
   exported ONNX bundle) and serves it with uvicorn on loopback;
2. arm "votes": simulated users search captions 0, 1, 2 of each captioned photo (240 queries) and vote
   (bench/simulate_users.py); `kedro run --pipelines tune` registers a tuned version;
3. arm "random": other users vote a random sign on a random result for the same queries, into a separate vote
   log and feature-store folder; a second tune run on top of version 1 registers another version;
4. reports text→image Recall@1/5/10 for every version, asked through the server's API, and what the promotion
   rule decided for each tuned version: on captions 3 and 4 (160 queries no one voted on, of photos that were
   voted on) and on the held-out captions of the 80 distractors (bench/held_out.py: 400 queries for photos no
   one voted up, which a feedback adapter could as well pull queries away from);
5. A/B: production back on version 1, candidate on the version tuned on real votes, the server routing half
   of the sessions to the candidate (GLIMPSE_AB_CANDIDATE_SHARE=0.5); new users search the held-out captions
   without naming a model and vote the same way; prints /api/feedback/stats (votes per search per version).

Run: .venv/bin/python bench/feedback_loop.py [--workdir /tmp/glimpse-feedback-loop] [--keep]
Takes ~4 minutes on 2 cores (the A/B step ~1.5 of them; `--ab-passes 0` skips it). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.held_out import held_out_set
from bench.simulate_users import COCO, coco_queries, play
from tools.processes import ServerProcess, start_server

ROOT = Path(__file__).resolve().parents[1]
KS = (1, 5, 10)


def scratch_project(project: Path, coco: Path) -> dict[str, str]:
    """A Kedro project in ``project`` with the repo's settings, over the photos of ``coco`` (read where they are,
    never copied) and the repo's exported ONNX bundle; returns the parameters its runs take."""
    project.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(ROOT / "conf", project / "conf", dirs_exist_ok=True, ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir(exist_ok=True)
    return {
        "ingest.root": str(coco),
        "model.bundle_root": str(ROOT / "models" / "onnx"),
        "evaluate.coco_root": str(coco),
        "evaluate.demo_manifest": str(project / "no-manifest.csv"),
        "describe.source_manifest": str(project / "no-manifest.csv"),
    }


def kedro(project: Path, params: dict[str, str], pipelines: str | None = None) -> float:
    cmd = [str(ROOT / ".venv" / "bin" / "kedro"), "run", "--params", ",".join(f"{k}={v}" for k, v in params.items())]
    if pipelines:
        cmd += ["--pipelines", pipelines]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def serve(project: Path, feedback_db: Path, **env: str) -> ServerProcess:
    """The app serving the scratch project with its own vote log, once it is ready (its log in project/logs)."""
    return start_server(
        project / "logs" / f"server-{feedback_db.stem}.log",
        project=project,
        ready_timeout_s=120,
        env={
            "GLIMPSE_COLLECTION_ROOT": str(COCO),
            "GLIMPSE_FEEDBACK_DB": str(feedback_db),
            "GLIMPSE_ALIAS_REFRESH_S": "0",
            # Every simulated user comes from 127.0.0.1: the per-address limit would throttle the whole crowd.
            "GLIMPSE_FEEDBACK_VOTES_PER_MINUTE_PER_CLIENT": "100000",
        }
        | env,
    )


def ab_test(project: Path, held_out: list[tuple[str, str]], candidate: str, passes: int, users: int) -> dict:
    """Production = 1, candidate = ``candidate``, half the sessions routed to it; ``passes`` rounds of fresh
    users search every held-out caption without naming a model. Returns the server's feedback stats."""
    from models.registry import CANDIDATE, PRODUCTION, Registry

    registry = Registry(f"sqlite:///{project}/data/mlflow/mlflow.db", project / "data/mlflow/artifacts")
    registry.set_alias(PRODUCTION, "1")
    registry.set_alias(CANDIDATE, candidate)
    server = serve(project, project / "data/feedback/ab.db", GLIMPSE_AB_CANDIDATE_SHARE="0.5")
    base = server.base_url
    try:
        for n in range(passes):
            play(lambda: httpx.Client(base_url=base, timeout=30), held_out, users=users, model=None, seed=100 + n)
        return httpx.get(base + "/api/feedback/stats", timeout=30).json()
    finally:
        server.stop(grace_s=30)


def ask(client: httpx.Client, caption: str, version: str | None = None) -> dict:
    """The top ``max(KS)`` answer to one caption, checked to come from ``version`` when one is named."""
    params = {"q": caption, "k": max(KS)} | ({"model": version} if version else {})
    response = client.get("/api/search", params=params)
    response.raise_for_status()
    answer = response.json()
    if version and answer["model"]["version"] != version:
        raise RuntimeError(f"asked for version {version}, got {answer['model']['version']}")
    return answer


def hits_at(answer: dict, truth: str) -> dict[int, bool]:
    """Whether the caption's own picture is in the answer's top k, for each k of KS."""
    ranked = [r["image_id"] for r in answer["results"]]
    return {k: truth in ranked[:k] for k in KS}


def recall(base: str, queries: list[tuple[str, str]], version: str) -> dict[str, float]:
    hits = dict.fromkeys(KS, 0)
    with httpx.Client(base_url=base, timeout=30) as client:
        for caption, truth in queries:
            for k, hit in hits_at(ask(client, caption, version), truth).items():
                hits[k] += hit
    return {f"R@{k}": hits[k] / len(queries) for k in KS}


def unvoted_queries(coco: Path) -> list[tuple[str, str]]:
    """(caption, image id) for the distractors' written captions: photos the simulated users never vote up."""
    from pipeline.pipelines.ingest.image_file import image_id_for

    captioned = held_out_set(coco)
    ids = [image_id_for(path.read_bytes()) for path in captioned.image_paths]
    return [(caption, ids[owner]) for caption, owner in zip(captioned.captions, captioned.caption_image, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scratch project folder (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch project")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--ab-passes", type=int, default=5, help="rounds of new users over the held-out captions")
    args = parser.parse_args()
    if not (COCO / "captions_train2017.json").exists():
        sys.exit(f"{COCO} is missing (coco-mini: set GLIMPSE_COCO)")
    project = args.workdir or Path(tempfile.mkdtemp(prefix="glimpse-feedback-loop-"))
    base_params = scratch_project(project, COCO)
    seconds = {"collection": kedro(project, base_params)}
    played, held_out = coco_queries(COCO, [0, 1, 2]), coco_queries(COCO, [3, 4])
    arms = {
        "votes": {"db": project / "data/feedback/votes.db", "store": "data/07_feature_store", "random": False},
        "random": {"db": project / "data/feedback/random.db", "store": "data/07_random_votes", "random": True},
    }
    outcomes, registrations = {}, {}
    for name, arm in arms.items():
        server = serve(project, arm["db"])
        base = server.base_url
        try:
            started = time.perf_counter()
            outcome = play(
                lambda b=base: httpx.Client(base_url=b, timeout=30),
                played,
                users=args.users,
                random_votes=arm["random"],
                model="1",
                seed=1,
            )
            seconds[f"play {name}"] = time.perf_counter() - started
            outcomes[name] = outcome.as_dict()
        finally:
            server.stop(grace_s=30)
        tune_params = base_params | {
            "feedback.feedback_db": str(arm["db"]),
            "feedback.store_root": arm["store"],
            "tune.store_root": arm["store"],
            "tune.base": "1",
        }
        seconds[f"tune {name}"] = kedro(project, tune_params, "tune")
        registrations[name] = json.loads((project / "data/06_models/tune_registration.json").read_text())
        (project / "data/08_reporting/tune.json").rename(project / f"data/08_reporting/tune-{name}.json")

    server = serve(project, project / "data/feedback/measure.db")
    base = server.base_url
    try:
        versions = {"1 (base)": "1"}
        for name, reg in registrations.items():
            if reg.get("registered"):
                versions[f"{reg['candidate']} ({name})"] = reg["candidate"]
        table = {label: recall(base, held_out, version) for label, version in versions.items()}
        unvoted = unvoted_queries(COCO)
        others = {label: recall(base, unvoted, version) for label, version in versions.items()}
        production = httpx.get(base + "/api/models", timeout=30).json()
    finally:
        server.stop(grace_s=30)

    print(f"## Feedback loop on coco-mini ({len(played)} played queries, {len(held_out)} held-out captions)\n")
    print("| version | held-out R@1 | R@5 | R@10 | promoted | why |\n|---|---|---|---|---|---|")
    for label, figures in table.items():
        arm = label.split("(")[1].rstrip(")")
        reg = registrations.get(arm, {})
        promoted = "—" if arm == "base" else ("yes" if reg.get("promoted") else "no")
        why = reg.get("reason", "") + (f" (held-out feedback MRR gain {reg['fb_mrr_gain']:+.3f})" if reg else "")
        print(f"| {label} | {figures['R@1']:.3f} | {figures['R@5']:.3f} | {figures['R@10']:.3f} | {promoted} | {why} |")
    print(f"\n## The same versions on photos no one voted up ({len(unvoted)} held-out captions of the distractors)\n")
    print("| version | R@1 | R@5 | R@10 |\n|---|---|---|---|")
    for label, figures in others.items():
        print(f"| {label} | {figures['R@1']:.3f} | {figures['R@5']:.3f} | {figures['R@10']:.3f} |")
    print(
        "\nVotes: "
        + "; ".join(
            f"{name}: {o['votes_up']} up, {o['votes_down']} down, top-10 hit rate {o['hit_rate']}"
            for name, o in outcomes.items()
        )
    )
    aliases = {v["version"]: v.get("aliases", []) for v in production.get("versions", [])}
    print(f"Aliases after both runs: {json.dumps(aliases)}")

    tuned = registrations["votes"].get("candidate") if registrations["votes"].get("registered") else None
    if tuned and args.ab_passes > 0:
        started = time.perf_counter()
        stats = ab_test(project, held_out, tuned, args.ab_passes, args.users)
        seconds["A/B"] = time.perf_counter() - started
        ab = stats["ab"]
        print(
            f"\n## A/B: {ab['candidate_share']:.0%} of sessions on the candidate (v{ab['candidate']}), "
            f"the rest on production (v{ab['control']}); {args.ab_passes} × {len(held_out)} held-out searches\n"
        )
        print("| version | arm | voting sessions | searches | up votes / search | down votes / search |")
        print("|---|---|---|---|---|---|")
        for v in stats["versions"]:
            arm = "candidate" if v["model_version"] == ab["candidate"] else "control"
            print(
                f"| {v['model_version']} | {arm} | {v['sessions']} | {v['searches']} | "
                f"{v['up_per_search']:.3f} | {v['down_per_search']:.3f} |"
            )
    print("Seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    if not args.keep and args.workdir is None:
        shutil.rmtree(project, ignore_errors=True)
    else:
        print(f"scratch project kept in {project}")


if __name__ == "__main__":
    main()
