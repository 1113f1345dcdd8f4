"""Limits on every request, applied before a route reads anything.

- Body size: a declared ``Content-Length`` over the cap is answered 413 at once, unread; a body sent without a
  length (chunked) is counted as it arrives and refused as soon as it passes the cap. Routes keep their own,
  smaller limits (an image upload, a 16 KB vote); this one protects the parsers behind them (multipart
  spooling, JSON) from bodies of any size.
- Body time: the whole body must arrive within a deadline, else 408. A client trickling a body byte by byte
  would otherwise hold its request (and a multipart spool file) open for as long as it likes.
- Query string size: over the cap is answered 414 unread, so no parser sees a megabyte of parameters. (Far
  longer request lines are refused by uvicorn's HTTP parser itself, with a plain-text 400, before the app.)
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 1024} KB")


class BodyTimeoutError(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} s")


class RequestLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout_s: float, max_query_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.max_query_bytes = max_query_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_query_bytes:
            await _refuse(send, 414, "query_too_long", f"the query string is longer than {self.max_query_bytes} bytes")
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _refuse(send, 400, "bad_request", "the Content-Length header is not a number")
            return
        if declared is not None and int(declared) > self.max_body_bytes:
            limit = self.max_body_bytes
            await _refuse(send, 413, "body_too_large", f"the request body is larger than {limit // 1024} KB")
            return
        received = 0
        complete = False  # once the body is in, later reads only wait for a disconnect: no deadline
        deadline: float | None = None  # set by the first read: a route that never reads the body is not timed

        async def limited() -> Message:
            nonlocal received, complete, deadline
            if complete:
                return await receive()
            if deadline is None:
                deadline = time.monotonic() + self.body_timeout_s
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise BodyTimeoutError(self.body_timeout_s) from None  # answered 408 by the app's handler
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise RequestTooLargeError(self.max_body_bytes)  # answered 413 by the app's handler
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, limited, send)


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    payload = json.dumps({"error": code, "message": message}).encode()
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
