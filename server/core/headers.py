"""Response headers every page and file needs: security policy, cross-origin isolation and caching.

The Content-Security-Policy allows only this origin's scripts, styles, images, workers and fetches, plus
``'wasm-unsafe-eval'`` so ONNX Runtime Web can compile the WebAssembly we serve; no inline script or style, no
plugins, no framing, forms post only here — /docs included (Swagger UI is served from the vendored npm package,
with no inline script). There is no CORS middleware: other origins' scripts cannot read any answer.

Cross-origin isolation (COOP + COEP) lets ONNX Runtime Web use threads for speech in the browser; without it
ORT silently runs on one thread. Speech model files have content-hashed names, so they may be cached for a
year — except the manifests that name them, which change on every rebuild; vendored npm files change only with
the lock file, so a day; our own CSS/JS are revalidated.
"""

from __future__ import annotations

import mimetypes

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Python 3.11's table lacks these; browsers refuse module workers and wasm served as text/plain.
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("application/wasm", ".wasm")

ISOLATION = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), geolocation=(), microphone=(self)",
}
CACHE_RULES = (
    ("/static/models/speech-manifest.json", "no-cache"),
    ("/static/models/piper-voice.manifest.json", "no-cache"),
    ("/static/models/", "public, max-age=31536000, immutable"),
    ("/vendor/", "public, max-age=86400"),
    ("/static/", "no-cache"),
)


class ResponseHeaders:
    """Pure ASGI middleware (Starlette's ``@app.middleware`` wrapper cost ~0.5 ms a request): adds the headers
    above to every response start, never replacing one a route set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in (ISOLATION | SECURITY).items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", CSP)
                for prefix, rule in CACHE_RULES:
                    if path.startswith(prefix) and message["status"] == 200:
                        headers.setdefault("Cache-Control", rule)
                        break
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    app.add_middleware(ResponseHeaders)
