"""Response headers every page and file needs: cross-origin isolation and caching.

Cross-origin isolation (COOP + COEP) lets ONNX Runtime Web use threads for speech in the browser; without it
ORT silently runs on one thread. Speech model files have content-hashed names, so they may be cached for a
year — except the manifests that name them, which change on every rebuild; vendored npm files change only with
the lock file, so a day; our own CSS/JS are revalidated.
"""

from __future__ import annotations

import mimetypes

from fastapi import FastAPI, Request

# Python 3.11's table lacks these; browsers refuse module workers and wasm served as text/plain.
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("application/wasm", ".wasm")

ISOLATION = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CACHE_RULES = (
    ("/static/models/speech-manifest.json", "no-cache"),
    ("/static/models/piper-voice.manifest.json", "no-cache"),
    ("/static/models/", "public, max-age=31536000, immutable"),
    ("/vendor/", "public, max-age=86400"),
    ("/static/", "no-cache"),
)


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in ISOLATION.items():
            response.headers.setdefault(name, value)
        path = request.url.path
        for prefix, rule in CACHE_RULES:
            if path.startswith(prefix) and response.status_code == 200:
                response.headers.setdefault("Cache-Control", rule)
                break
        return response
