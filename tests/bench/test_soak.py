"""bench/soak.py's core at a tiny size (six photos, a tiny model, a few seconds per phase), so the soak cannot rot:
a real uvicorn child, a second registered version, alias moves and a real `kedro run --pipelines publish`."""

from __future__ import annotations

import psutil
import pytest

from bench import soak
from bench.soak_project import registry_for, second_version
from bench.soak_report import render
from models.registry import PRODUCTION
from tests.fixtures.project import build_project

pytestmark = pytest.mark.slow


def test_three_phases_report_load_errors_memory_and_leave_no_process(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    build_project(project, images=6)
    config = soak.Config(
        project=project,
        collection=project / "data/01_raw/demo",
        logs=tmp_path / "logs",
        seconds=3.0,
        concurrency=2,
        switch_every_s=0.7,
        republish_timeout_s=300.0,
        server_env={"GLIMPSE_ONNX_THREADS": "1", "GLIMPSE_ALIAS_REFRESH_S": "0"},
    )
    report = soak.run_soak(config)

    assert [p["phase"] for p in report["phases"]] == ["steady", "alias", "republish"]
    for phase in report["phases"]:
        assert phase["errors"] == {}, (phase["errors"], report["error_examples"], report["server_log_problems"])
        assert phase["requests"] == phase["ok"] > 0 and phase["rps"] > 0
        for kind in ("text", "image", "image_upload", "image_id"):
            assert phase[kind]["n"] > 0 and 0 < phase[kind]["p50_ms"] <= phase[kind]["p99_ms"]
        rss = phase["rss"]
        assert rss["samples"] >= 2 and 0 < rss["start_mb"] <= rss["max_mb"] and rss["warm_mb"] > 0
        assert isinstance(rss["change_pct"], float)
    steady, alias, republish = report["phases"]
    base, other = report["versions"]["base"], report["versions"]["other"]
    assert set(steady["versions"]) == {base} and set(alias["versions"]) == {base, other}
    assert alias["switches"] and not any(s["error"] for s in alias["switches"])
    runs = republish["republish_runs"]
    assert runs and all(r["exit"] == 0 and r["published_at"] for r in runs)

    verdict = report["verdict"]
    assert sum(verdict["hard_errors"].values()) == 0 and verdict["other_errors"] == 0
    assert verdict["alias_both_versions_answered"] and verdict["republish_failed"] == []
    text = render(report)
    assert "| republish |" in text and "RSS flat within 5 %" in text and "verdict:" in text

    # Everything it started is gone, and production is back on the base version.
    assert report["server_exit"] is not None and not psutil.pid_exists(report["server_pid"])
    assert not any(psutil.pid_exists(r["pid"]) for r in runs)
    assert registry_for(project).get(PRODUCTION).version == base
    # A second run finds the registered second version instead of registering another one.
    assert second_version(project) == (base, other)
