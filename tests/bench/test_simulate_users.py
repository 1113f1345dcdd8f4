"""The simulated users against the real app: one session each, votes that follow what was shown."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from bench.simulate_users import coco_queries, play
from models.evaluation import coco_root
from server.main import create_app
from server.services.feedback import FeedbackStore
from tests.fixtures.project import build_project
from tests.server.conftest import settings_for

COCO = coco_root()

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_and_ids(tmp_path_factory):
    folder = tmp_path_factory.mktemp("simulate")
    build_project(folder, images=6)
    ids = pd.read_parquet(folder / "data/03_primary/images.parquet")["image_id"].tolist()
    settings = settings_for(folder, feedback_votes_per_minute_per_client=100_000)
    return create_app(settings), ids, settings.path(settings.feedback_db)


def test_users_vote_up_what_they_were_looking_for_and_down_what_ranked_above_it(app_and_ids):
    app, ids, db = app_and_ids
    queries = [("a photo", image_id) for image_id in ids]
    with TestClient(app):  # start-up (model warm-up) once
        outcome = play(lambda: TestClient(app), queries, users=3, k=10, down=1, model="1")
    assert outcome.searches == 6 and outcome.hits == 6  # 6 images, k 10: every photo is shown
    rows = FeedbackStore(db).recent(100)
    assert len({r["session"] for r in rows}) == 3  # one anonymous session per user
    ups = [r for r in rows if r["vote"] == 1]
    assert sorted(r["image_id"] for r in ups) == sorted(ids) and outcome.up == 6
    assert outcome.down == sum(1 for r in ups if r["rank"] > 1)  # one wrong result above each non-first hit
    assert len(rows) == outcome.up + outcome.down - outcome.duplicates


def test_random_voters_vote_both_ways_on_shown_results(app_and_ids):
    app, ids, db = app_and_ids
    before = FeedbackStore(db).count()
    with TestClient(app):
        outcome = play(lambda: TestClient(app), [("random", i) for i in ids] * 3, users=2, random_votes=True, seed=3)
    assert outcome.up > 0 and outcome.down > 0
    assert FeedbackStore(db).count() - before == outcome.up + outcome.down - outcome.duplicates


@pytest.mark.skipif(not (COCO / "captions_train2017.json").exists(), reason=f"no coco-mini at {COCO} (GLIMPSE_COCO)")
def test_coco_queries_pair_each_caption_with_its_photos_content_id():
    played, held_out = coco_queries(COCO, [0, 1, 2]), coco_queries(COCO, [3, 4])
    assert len(played) == 240 and len(held_out) == 160
    assert not {c for c, _ in played} & {c for c, _ in held_out}
    assert len({i for _, i in played}) == 80 and all(len(i) == 32 for _, i in played)
