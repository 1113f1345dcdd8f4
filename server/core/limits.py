"""A cap on every request body, applied before a route reads it.

A declared ``Content-Length`` over the cap is answered 413 at once, without reading the body; a body sent
without a length (chunked) is counted as it arrives and refused as soon as it passes the cap. Routes keep their
own, smaller limits (an image upload, a 16 KB vote); this one protects the parsers behind them (multipart
spooling, JSON) from bodies of any size.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 1024} KB")


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send, 400 if not declared.isdigit() else 413)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise RequestTooLargeError(self.limit)  # an HTTPException: answered 413 by the app's handler
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send, status: int) -> None:
        if status == 413:
            body = {"error": "body_too_large", "message": f"the request body is larger than {self.limit // 1024} KB"}
        else:
            body = {"error": "bad_request", "message": "the Content-Length header is not a number"}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
