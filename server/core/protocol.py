"""uvicorn's HTTP protocol with a deadline for request headers (``uvicorn --http server.core.protocol:HTTP``).

uvicorn times out idle keep-alive connections, but not a client that opens a connection and sends its
headers a byte at a time: such a connection is held for ever, and enough of them exhaust the process's file
descriptors. Here every request's headers must be complete within ``GLIMPSE_HEADER_TIMEOUT_S`` of the
connection opening or the previous response ending; a client slower than that gets 408 and is disconnected.
The body has its own deadline (server/core/limits.py).
"""

from __future__ import annotations

import asyncio
import json
import sys

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.core.config import get_settings

_ANSWER = json.dumps({"error": "header_timeout", "message": "the request headers did not arrive in time"}).encode()
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_ANSWER), _ANSWER)
)


class HTTP(HttpToolsProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = get_settings().header_timeout_s
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request on this connection gets the same time, unless its headers are already in (a pipelined
        # request uvicorn has just started: a deadline now would cut its response off).
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)


def server_command(host: str, port: int, python: str = sys.executable) -> list[str]:
    """The command that serves the app as deployed (the Makefile and the Dockerfile run the same), for the tests
    and benchmarks that start a real server; ``python`` picks the environment (e.g. one with the server extra only)."""
    app = ["server.main:create_app", "--factory", "--http", f"{__name__}:HTTP"]
    return [python, "-m", "uvicorn", *app, "--host", host, "--port", str(port)]
