"""HEAD answers every GET page and endpoint with the GET's status and headers and no body."""

from __future__ import annotations

import pytest

PATHS = [
    "/",
    "/search?q=a+noisy+photo&k=5",
    "/api/search?q=a+noisy+photo&k=5",
    "/api/models",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/openapi.json",
    "/static/css/glimpse.css",
    "/no/such/page",
]

# Answers that change between two calls, so their lengths may differ by a digit: counters, check times, and the
# search answer's own timings (timings_ms).
VARYING = {"/metrics", "/readyz", "/api/search?q=a+noisy+photo&k=5"}


@pytest.mark.parametrize("path", PATHS)
def test_head_is_the_get_without_its_body(client, path):
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code, path
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if "content-length" in get.headers and path not in VARYING:
        assert head.headers["content-length"] == get.headers["content-length"]


def test_head_on_an_image_and_its_thumbnail(client):
    image_id = client.get("/api/search", params={"q": "a photo", "k": 1}).json()["results"][0]["image_id"]
    for path in (f"/api/images/{image_id}", f"/api/images/{image_id}/thumbnail", f"/images/{image_id}"):
        head = client.head(path)
        assert head.status_code == 200 and head.content == b"", path
        assert int(head.headers["content-length"]) == len(client.get(path).content), path


def test_head_where_only_post_is_allowed_says_so(client):
    response = client.head("/api/feedback")
    assert response.status_code == 405 and response.content == b""
