"""The request body cap (server/core/limits.py): declared or streamed, a body over the cap gets 413 JSON."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.main import create_app
from tests.server.conftest import settings_for

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def small_cap(project):
    folder, _ = project
    with TestClient(create_app(settings_for(folder, max_request_bytes=LIMIT))) as client:
        yield client


def test_a_declared_length_over_the_cap_is_refused_unread(small_cap):
    answer = small_cap.post("/api/search/image", files={"file": ("big.jpg", b"\xff" * (LIMIT + 1), "image/jpeg")})
    assert answer.status_code == 413
    assert answer.json() == {"error": "body_too_large", "message": "the request body is larger than 64 KB"}
    assert (
        small_cap.post(
            "/api/feedback", content=b"x" * (LIMIT + 10), headers={"content-type": "application/json"}
        ).status_code
        == 413
    )


def test_a_streamed_body_is_cut_off_once_it_passes_the_cap(small_cap):
    def chunks():
        for _ in range(40):
            yield b"\xff" * 4096  # 160 KB in all, no Content-Length

    answer = small_cap.post(
        "/api/search/image", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert answer.status_code == 413 and answer.json()["error"] == "body_too_large"


def test_bodies_under_the_cap_still_work(small_cap, project):
    folder, _ = project
    png = next((folder / "data/01_raw/demo").rglob("*.png")).read_bytes()
    assert len(png) < LIMIT
    answer = small_cap.post("/api/search/image", files={"file": ("p.png", png, "image/png")})
    assert answer.status_code == 200 and answer.json()["results"]
