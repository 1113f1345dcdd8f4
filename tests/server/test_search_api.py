"""The JSON API against the real app over a small real collection (pipeline-built, tiny CLIP model)."""

import io

import pytest
from fastapi.testclient import TestClient

from server.main import create_app
from tests.fixtures.images import encode, photo, png_bomb, png_header
from tests.server.conftest import in_process, settings_for

IMAGE_ID_LEN = 32


def first_result(client, q="photo", k=1):
    response = client.get("/api/search", params={"q": q, "k": k})
    assert response.status_code == 200, response.text
    return response.json()


def test_text_search_returns_ranked_results_with_metadata(client):
    body = first_result(client, "a noisy gradient", k=5)
    assert body["query"] == "a noisy gradient" and body["model"]["version"] == "1"
    results = body["results"]
    assert [r["rank"] for r in results] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    top = results[0]
    assert len(top["image_id"]) == IMAGE_ID_LEN
    assert top["image_url"] == f"/api/images/{top['image_id']}"
    assert top["metadata"]["path"].startswith("set") and top["metadata"]["width"] >= 80
    for result in results:  # every result carries its description
        assert set(result["description"]) == {"alt", "long"}
        assert 0 < len(result["description"]["alt"]) <= 125 and len(result["description"]["long"]) > 40
    assert set(body["timings_ms"]) == {"spell", "encode", "search", "features"}


def test_k_larger_than_the_collection(client):
    assert len(first_result(client, k=100)["results"]) == 12


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"q": "   "}, 422, "empty"),
        ({"q": "\x00\x01"}, 422, "empty"),
        ({"q": "x" * 501}, 422, "limit is 500"),
        ({"q": "x" * 12_000}, 422, "q"),  # over the field limit, under the 16 KB query-string cap (414)
        ({"q": "cat", "k": 0}, 422, "k"),
        ({"q": "cat", "k": -1}, 422, "k"),
        ({"q": "cat", "k": 101}, 422, "k"),
        ({"q": "cat", "k": 10**9}, 422, "k"),
        ({"q": "cat", "k": "many"}, 422, "k"),
        ({}, 422, "q"),
    ],
)
def test_validation_errors_are_json_with_a_message(client, params, status, needle):
    response = client.get("/api/search", params=params)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == "invalid_request" and needle in body["message"]


def test_query_is_trimmed_and_control_characters_dropped(client):
    assert first_result(client, "  red\tcar\n ")["query"] == "red car"


def test_unknown_model_lists_the_known_ones(client):
    response = client.get("/api/search", params={"q": "cat", "model": "nope"})
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "unknown_model" and {"1", "production", "candidate"} <= set(body["known"])


def test_model_by_number_and_alias(client):
    for name in ("1", "production", "candidate"):
        response = client.get("/api/search", params={"q": "cat", "model": name})
        assert response.status_code == 200 and response.json()["model"]["version"] == "1"


def test_original_thumbnail_and_description(client):
    top = first_result(client)["results"][0]
    original = client.get(top["image_url"])
    assert original.status_code == 200
    assert original.headers["content-type"] in ("image/jpeg", "image/png")
    assert original.headers["x-content-type-options"] == "nosniff"
    thumb = client.get(top["thumbnail_url"])
    assert (
        thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg" and thumb.content[:2] == b"\xff\xd8"
    )
    described = client.get(f"{top['image_url']}/description").json()
    assert described["image_id"] == top["image_id"] and described["metadata"]["path"] == top["metadata"]["path"]
    assert described["description"]["alt"] == top["description"]["alt"]
    evidence = described["description"]["evidence"]
    assert evidence["width"] == top["metadata"]["width"] and evidence["colours"]
    assert len(evidence["labels"]) == 10 and all(label["id"].startswith("n") for label in evidence["labels"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/images/" + "0" * 32,
        "/api/images/..%2F..%2Fetc%2Fpasswd",
        "/api/images/../../etc/passwd",
        "/api/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd/thumbnail",
        "/api/images/ABCDEF/description",
    ],
)
def test_unknown_or_hostile_image_ids(client, path):
    response = client.get(path)
    assert response.status_code in (404, 422)
    assert response.headers["content-type"].startswith("application/json")
    assert "root:" not in response.text


def test_image_search_by_id_excludes_the_query_image(client):
    top = first_result(client)["results"][0]
    response = client.post("/api/search/image", data={"image_id": top["image_id"], "k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query_image_id"] == top["image_id"]
    assert len(body["results"]) == 3 and top["image_id"] not in {r["image_id"] for r in body["results"]}


def test_image_search_by_id_uses_the_stored_vector_not_the_original(client, project):
    """ "More like this" takes an indexed image's vector from the index: it answers with the original file
    gone, and ranks as a search by the same file's upload does."""
    folder, _ = project
    top = first_result(client)["results"][0]
    original = folder / "data/01_raw/demo" / top["metadata"]["path"]
    data = {"k": 11}
    upload = client.post("/api/search/image", files={"file": ("q.jpg", original.read_bytes(), "image/jpeg")}, data=data)
    moved = original.rename(original.with_suffix(".moved"))
    try:
        by_id = client.post("/api/search/image", data={"image_id": top["image_id"].upper(), "k": 10})
        assert client.get(top["image_url"]).json()["error"] == "image_file_missing"
    finally:
        moved.rename(original)
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["timings_ms"]["encode"] < 5  # no decode, no image tower
    expected = [r["image_id"] for r in upload.json()["results"] if r["image_id"] != top["image_id"]]
    assert [r["image_id"] for r in by_id.json()["results"]] == expected[:10]


def test_image_search_by_id_is_not_bound_by_the_upload_size_limit(project):
    """A collection image larger than an upload may be is still a valid query by its id."""
    folder, _ = project
    with TestClient(create_app(settings_for(folder, max_upload_bytes=1024))) as small:
        top = small.get("/api/search", params={"q": "photo", "k": 1}).json()["results"][0]
        assert top["metadata"]["bytes"] > 1024
        response = small.post("/api/search/image", data={"image_id": top["image_id"], "k": 2})
        assert response.status_code == 200, response.text
        upload = (folder / "data/01_raw/demo" / top["metadata"]["path"]).read_bytes()
        refused = small.post("/api/search/image", files={"file": ("q.jpg", upload, "image/jpeg")})
        assert refused.status_code == 413 and refused.json()["error"] == "upload_too_large"


def test_image_search_by_upload_finds_the_same_image_first(client, project):
    folder, _ = project
    data = (folder / "data/01_raw/demo/set0/photo0.jpg").read_bytes()
    response = client.post("/api/search/image", files={"file": ("q.jpg", data, "image/jpeg")}, data={"k": 2})
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["metadata"]["path"] == "set0/photo0.jpg"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"", 422, "empty_upload"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 415, "not_an_image"),
        (b"GIF89a" + b"\x00" * 10, 415, "not_an_image"),  # a header and nothing else
        (encode(photo(40, 40), "JPEG")[:200], 422, "broken_image"),
        (encode(photo(16, 16), "ICO"), 415, "unsupported_format"),
        (png_bomb(12_000), 413, "image_too_large"),  # over our 50 M pixels, under PIL's own bomb limit
        (png_header(30_000, 30_000), 413, "image_too_large"),  # over PIL's limit too: a PNG, just too big
        (b"\xff" * (10 * 1024 * 1024 + 5), 413, "upload_too_large"),
    ],
)
def test_bad_uploads(client, payload, status, code):
    response = client.post("/api/search/image", files={"file": ("x.bin", payload, "application/octet-stream")})
    assert response.status_code == status, response.text
    assert response.json()["error"] == code


def test_image_search_needs_exactly_one_source(client):
    assert client.post("/api/search/image", data={"k": 3}).status_code == 422
    both = client.post(
        "/api/search/image",
        files={"file": ("x.png", io.BytesIO(encode(photo(), "PNG")), "image/png")},
        data={"image_id": "0" * 32},
    )
    assert both.status_code == 422
    assert client.post("/api/search/image", data={"image_id": "../etc/passwd"}).status_code == 422
    assert client.post("/api/search/image", data={"image_id": "f" * 32}).status_code == 404


def test_models_endpoint_reports_versions_aliases_and_pool(client):
    client.get("/api/search", params={"q": "warm up"})
    body = client.get("/api/models").json()
    assert body["default"] == "production"
    assert body["versions"][0]["aliases"] == ["candidate", "production"]
    assert body["versions"][0]["spec"].startswith("open_clip:")
    assert body["versions"][0]["index"]["text"] == "Flat" and body["versions"][0]["index"]["text_count"] == "12"
    loaded = body["pool"]["loaded"]
    assert loaded and loaded[0]["version"] == "1" and loaded[0]["images"] == 12


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/search/image", "/api/images/{image_id}", "/api/models"} <= set(paths)


@in_process
def test_prometheus_metrics_count_routes_and_pool(client):
    client.get("/api/search", params={"q": "metrics please"})
    client.get("/api/search", params={"q": ""})
    text = client.get("/metrics").text
    assert 'glimpse_requests_total{method="GET",route="/api/search",status="200"}' in text
    assert 'glimpse_requests_total{method="GET",route="/api/search",status="422"}' in text
    assert 'glimpse_request_seconds_bucket{le="0.01",method="GET",route="/api/search"}' in text
    assert "glimpse_models_loaded 1.0" in text
    # A resident version's bytes are exact, the same as /api/models reports (not rebuilt from rounded MB).
    loaded = client.get("/api/models").json()["pool"]["loaded"]
    assert loaded
    for model in loaded:
        name = f'glimpse_model_bytes{{version="{model["version"]}"}}'
        line = next(x for x in text.splitlines() if x.startswith(name))
        assert float(line.split()[-1]) == model["size_bytes"], (line, model)


@in_process
def test_access_log_is_structured_and_leaves_queries_out(client, caplog):
    import json
    import logging

    with caplog.at_level(logging.INFO, logger="glimpse.access"):
        client.get("/api/search", params={"q": "my private query"})
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "glimpse.access"]
    assert entries and entries[-1]["route"] == "/api/search" and entries[-1]["status"] == 200
    assert "private" not in caplog.text


@in_process
def test_weak_results_and_no_good_match_follow_the_calibrated_threshold(client):
    """The tiny model has no coco evaluation here, so no threshold: nothing is weak; then a real one."""
    body = first_result(client, k=3)
    assert body["weak_threshold"] is None and body["no_good_match"] is False
    assert all(r["weak"] is False for r in body["results"])
    pool = client.app.state.services.pool()
    model = pool.get("production")
    model.weak_threshold = 2.0  # above any cosine: every result weak
    try:
        strict = first_result(client, k=3)
        assert strict["no_good_match"] is True and all(r["weak"] for r in strict["results"])
    finally:
        model.weak_threshold = None


def test_a_typo_is_searched_respelled_and_the_answer_says_so(client):
    typed = client.get("/api/search", params={"q": "a noisy phtoo", "k": 5}).json()
    right = client.get("/api/search", params={"q": "a noisy photo", "k": 5}).json()
    assert typed["query"] == "a noisy photo" and typed["typed"] == "a noisy phtoo"
    assert typed["respelled"] == [{"typed": "phtoo", "searched": "photo"}]
    assert [r["image_id"] for r in typed["results"]] == [r["image_id"] for r in right["results"]]
    assert right["typed"] is None and right["respelled"] == []
    as_typed = client.get("/api/search", params={"q": "a noisy phtoo", "k": 5, "spell": "false"}).json()
    assert as_typed["query"] == "a noisy phtoo" and as_typed["typed"] is None and as_typed["respelled"] == []
    bad = client.get("/api/search", params={"q": "a noisy phtoo", "spell": "maybe"})
    assert bad.status_code == 422 and "spell" in bad.json()["message"]
