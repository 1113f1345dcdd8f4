"""Security policy, cross-origin isolation and cache lifetimes on every kind of response
(server/core/headers.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[3] / "client" / "static" / "models"


def test_every_response_is_cross_origin_isolated(client):
    for path in ("/", "/api/search?q=a+photo", "/static/css/glimpse.css", "/no/such/page"):
        response = client.get(path)
        assert response.headers["cross-origin-opener-policy"] == "same-origin", path
        assert response.headers["cross-origin-embedder-policy"] == "require-corp", path
        assert response.headers["cross-origin-resource-policy"] == "same-origin", path


def test_cache_lifetimes_follow_what_can_change(client):
    assert client.get("/static/css/glimpse.css").headers["cache-control"] == "no-cache"
    assert client.get("/static/js/workers/stt-worker.js").headers["cache-control"] == "no-cache"
    assert client.get("/vendor/phonemizer/phonemizer.js").headers["cache-control"] == "public, max-age=86400"
    missing = client.get("/static/models/whisper-encoder.000000000000.onnx")
    assert missing.status_code == 404 and "immutable" not in missing.headers.get("cache-control", "")


def test_content_hashed_models_are_immutable(client):
    manifest = MODELS / "speech-manifest.json"
    if not manifest.is_file():
        pytest.skip("speech models not built (make setup)")
    encoder = json.loads(manifest.read_text())["files"]["encoder"]["file"]
    response = client.get(f"/static/models/{encoder}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    # The manifests are not content-hashed: they name the current files, so they are revalidated.
    for name in ("speech-manifest.json", "piper-voice.manifest.json"):
        assert client.get(f"/static/models/{name}").headers["cache-control"] == "no-cache", name


def test_every_response_carries_the_security_policy(client):
    paths = ("/", "/search?q=a+photo", "/api/search?q=a+photo", "/static/js/glimpse.js", "/no/such/page", "/docs")
    for path in paths:  # /docs too: Swagger UI is served from our own files, with no inline script
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self' 'wasm-unsafe-eval'" in policy and "'unsafe-inline'" not in policy, path
        assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "same-origin", path


def test_pages_have_no_inline_script_or_style(client):
    import re

    for path in ("/", "/search?q=a+photo"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path  # every script is a file
        assert " style=" not in html and "<style" not in html, path
        assert re.search(r"\son[a-z]+=", html) is None, path  # no inline event handlers


def test_other_origins_get_no_cors_permission(client):
    origin = {"Origin": "https://elsewhere.example"}
    answer = client.get("/api/search?q=a+photo", headers=origin)
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    preflight = client.options("/api/feedback", headers=origin | {"Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers and preflight.status_code in (404, 405)
