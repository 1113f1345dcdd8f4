"""bench/soak.py's load: client threads sending text and image queries, the server's resident memory sampled
beside them, and a wait for the version that answers."""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
from dataclasses import dataclass, field

import httpx
import psutil

from bench.search import QUERIES


def process_rss(pid: int) -> int | None:
    """Resident bytes of a process and all its descendants; None once it is gone."""
    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total
    except psutil.Error:
        return None


class RssSampler(threading.Thread):
    def __init__(self, pid: int, origin: float, every_s: float = 1.0) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pid, self.origin, self.every_s = pid, origin, every_s
        self.samples: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            rss = process_rss(self.pid)
            if rss is not None:
                self.samples.append((time.monotonic() - self.origin, rss))
            self.halt.wait(self.every_s)


@dataclass
class Sample:
    at: float  # seconds since the soak began
    kind: str  # text | upload | image_id
    status: str  # "200", "503", "timeout", "connection: ReadError", …
    ms: float
    version: str | None


@dataclass
class Load:
    base_url: str
    ids: list[str]
    uploads: list[tuple[str, bytes]]
    origin: float
    text_share: float = 0.7
    timeout_s: float = 30.0
    seed: int = 0
    error_examples: list[dict] = field(default_factory=list)

    def worker(self, n: int, stop: threading.Event, budget: itertools.count, cap: int, out: list[Sample]) -> None:
        rng = random.Random(self.seed * 1000 + n)
        images = 0
        with httpx.Client(base_url=self.base_url, timeout=self.timeout_s) as client:
            while not stop.is_set() and next(budget) < cap:
                if rng.random() < self.text_share:
                    kind = "text"
                    request = client.build_request(
                        "GET", "/api/search", params={"q": rng.choice(QUERIES), "k": 10}, timeout=self.timeout_s
                    )
                else:
                    images += 1
                    if images % 2:
                        kind, name_bytes = "upload", rng.choice(self.uploads)
                        request = client.build_request(
                            "POST",
                            "/api/search/image",
                            files={"file": (name_bytes[0], name_bytes[1], "image/jpeg")},
                            data={"k": "10"},
                        )
                    else:
                        kind = "image_id"
                        request = client.build_request(
                            "POST", "/api/search/image", data={"image_id": rng.choice(self.ids), "k": "10"}
                        )
                at = time.monotonic() - self.origin
                started = time.perf_counter()
                version = None
                try:
                    response = client.send(request)
                    ms = (time.perf_counter() - started) * 1000
                    status = str(response.status_code)
                    if response.status_code == 200:
                        try:
                            version = response.json()["model"]["version"]
                        except (ValueError, KeyError, TypeError):
                            status = "200 with a bad body"
                    if status != "200":
                        self.note(at, kind, status, response.text[:300])
                except httpx.TimeoutException as exc:
                    ms, status = (time.perf_counter() - started) * 1000, "timeout"
                    self.note(at, kind, status, f"{type(exc).__name__}: {exc}")
                except httpx.HTTPError as exc:
                    ms, status = (time.perf_counter() - started) * 1000, f"connection: {type(exc).__name__}"
                    self.note(at, kind, status, str(exc))
                out.append(Sample(at, kind, status, ms, version))

    def note(self, at: float, kind: str, status: str, detail: str) -> None:
        if len(self.error_examples) < 50:
            self.error_examples.append({"at_s": round(at, 2), "kind": kind, "status": status, "detail": detail})


def wait_for_version(base_url: str, version: str, timeout_s: float = 60.0) -> float | None:
    """Seconds until a text search is answered by ``version`` (None: not within ``timeout_s``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            answer = httpx.get(base_url + "/api/search", params={"q": "warm", "k": 1}, timeout=30).json()
            if answer["model"]["version"] == version:
                return round(time.monotonic() - started, 1)
        time.sleep(0.25)
    return None
