"""bench/soak.py's disturbances under load: the `production` alias moved back and forth through the registry,
and the publish pipeline run again and again."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from pathlib import Path

from bench.soak_project import CHILD_ENV, kedro_cmd, registry_for
from tools.processes import Child, spawn

PUBLICATION = Path("data/07_feature_store/publication.json")


class AliasSwitcher(threading.Thread):
    """Moves ``production`` between two versions every ``every_s`` seconds through the registry."""

    def __init__(self, project: Path, versions: tuple[str, str], every_s: float, origin: float) -> None:
        super().__init__(daemon=True, name="alias-switcher")
        self.project, self.versions, self.every_s, self.origin = project, versions, every_s, origin
        self.halt = threading.Event()
        self.switches: list[dict] = []

    def run(self) -> None:
        from models.registry import PRODUCTION

        registry = registry_for(self.project)
        for n in itertools.count(1):
            if self.halt.wait(self.every_s):
                return
            version = self.versions[n % 2]
            started = time.perf_counter()
            error = None
            try:
                registry.set_alias(PRODUCTION, version)
            except Exception as exc:  # noqa: BLE001 - a failed registry write is a finding: recorded, reported
                error = f"{type(exc).__name__}: {exc}"
            self.switches.append(
                {
                    "at_s": round(time.monotonic() - self.origin, 2),
                    "to": version,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "error": error,
                }
            )


class Republisher(threading.Thread):
    """Runs the publish pipeline in the project again and again until told to stop or a run fails; the run in
    flight when ``no_more`` is set is waited for (up to ``timeout_s``, then killed and counted as failed)."""

    def __init__(
        self, project: Path, params: dict[str, str], pipelines: str, logs: Path, origin: float, timeout_s: float
    ) -> None:
        super().__init__(daemon=True, name="republisher")
        self.project, self.params, self.pipelines, self.logs = project, params, pipelines, logs
        self.origin, self.timeout_s = origin, timeout_s
        self.no_more = threading.Event()
        self.runs: list[dict] = []
        self.kedro: Child | None = None

    def published_at(self) -> str | None:
        with contextlib.suppress(OSError, ValueError):
            return json.loads((self.project / PUBLICATION).read_text()).get("published_at")
        return None

    def run(self) -> None:
        for n in itertools.count(1):
            if self.no_more.is_set():
                return
            # The publish node skips inputs it has published already; without the marker it does the whole job.
            (self.project / PUBLICATION).unlink(missing_ok=True)
            log = self.logs / f"kedro-republish-{n}.log"
            started_at, started = time.monotonic() - self.origin, time.perf_counter()
            self.kedro = spawn(
                kedro_cmd(self.params, self.pipelines), log, name="kedro", cwd=self.project, env=CHILD_ENV
            )
            code = self.kedro.wait(self.timeout_s)
            self.kedro.stop(grace_s=15)
            record = {
                "run": n,
                "pid": self.kedro.pid,
                "started_s": round(started_at, 1),
                "seconds": round(time.perf_counter() - started, 1),
                "exit": "timeout" if code is None else code,
                "published_at": self.published_at(),
                "log": str(log),
            }
            self.runs.append(record)
            if code != 0:  # reported with its log; running it again would only repeat the failure
                record["log_tail"] = self.kedro.log_tail(3000)
                return

    def stop_now(self) -> None:
        self.no_more.set()
        if self.kedro is not None:
            self.kedro.stop(grace_s=15)
