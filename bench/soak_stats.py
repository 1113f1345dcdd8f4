"""bench/soak.py's figures: latency percentiles, the RSS trend of a phase, a phase's summary and the verdict."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bench.soak_load import Sample

WARM_UP_SHARE = 0.2  # "after warm-up" = the RSS from 20 % into a phase on
FLAT_PCT = 5.0


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p99_ms": None}
    p50, p99 = np.percentile(values, [50, 99])
    return {"n": len(values), "p50_ms": round(float(p50), 2), "p99_ms": round(float(p99), 2)}


def rss_stats(
    samples: list[tuple[float, int]], start: float, end: float, warm_up_share: float = WARM_UP_SHARE
) -> dict[str, Any]:
    """Start (first sample), after warm-up and end (medians over a short window: one upload's decoded pixels
    come and go within a second, a leak stays), max, the change end vs after warm-up, and the slope of a line
    fitted to every sample after warm-up."""
    inside = [(t, r) for t, r in samples if start <= t <= end + 1.0]
    if not inside:
        return {"samples": 0}
    window = max(3.0, min(10.0, 0.1 * (end - start)))
    warm_at = start + warm_up_share * (end - start)
    after = [(t, r) for t, r in inside if t >= warm_at] or inside[-1:]
    warm = float(np.median([r for t, r in after if t <= after[0][0] + window]))
    final = float(np.median([r for t, r in inside if t >= inside[-1][0] - window]))
    mb = 2**20
    slope = None
    if len(after) >= 3:
        t = np.array([s[0] for s in after]) / 60
        slope = round(float(np.polyfit(t - t[0], np.array([s[1] for s in after]) / mb, 1)[0]), 2)
    return {
        "samples": len(inside),
        "window_s": round(window, 1),
        "start_mb": round(inside[0][1] / mb, 1),
        "warm_mb": round(warm / mb, 1),
        "end_mb": round(final / mb, 1),
        "last_mb": round(inside[-1][1] / mb, 1),
        "max_mb": round(max(r for _, r in inside) / mb, 1),
        "change_pct": round((final - warm) / warm * 100, 2),
        "slope_mb_per_min": slope,
        "series": [(round(t, 1), round(r / mb, 1)) for t, r in inside],
    }


def summarise(
    name: str,
    samples: list[Sample],
    start: float,
    end: float,
    rss: list[tuple[float, int]],
    warm_up_share: float = WARM_UP_SHARE,
) -> dict:
    seconds = end - start
    ok = [s for s in samples if s.status == "200"]
    errors = Counter(s.status for s in samples if s.status != "200")
    return {
        "phase": name,
        "seconds": round(seconds, 1),
        "requests": len(samples),
        "ok": len(ok),
        "rps": round(len(samples) / seconds, 1) if seconds > 0 else 0.0,
        "text": percentiles([s.ms for s in ok if s.kind == "text"]),
        "image": percentiles([s.ms for s in ok if s.kind != "text"]),
        "image_upload": percentiles([s.ms for s in ok if s.kind == "upload"]),
        "image_id": percentiles([s.ms for s in ok if s.kind == "image_id"]),
        "errors": dict(errors),
        "error_count": sum(errors.values()),
        "versions": dict(Counter(s.version for s in ok if s.version is not None)),
        "rss": rss_stats(rss, start, end, warm_up_share),
    }


def verdict(report: dict) -> dict[str, Any]:
    hard = {
        p["phase"]: sum(n for status, n in p["errors"].items() if not status.isdigit() or status.startswith("5"))
        for p in report["phases"]
    }
    steady = next((p for p in report["phases"] if p["phase"] == "steady"), None)
    change = steady["rss"].get("change_pct") if steady else None
    flat = None if steady is None else (change is not None and change <= FLAT_PCT)  # None: no steady phase run
    runs = [r for p in report["phases"] for r in p.get("republish_runs", [])]
    failed_runs = [r["run"] for r in runs if r["exit"] != 0]
    switch_errors = [s for p in report["phases"] for s in p.get("switches", []) if s["error"]]
    alias = next((p for p in report["phases"] if p["phase"] == "alias"), None)
    both_served = None if alias is None else len(alias["versions"]) >= 2  # None: no alias phase run
    republished = next((p for p in report["phases"] if p["phase"] == "republish"), None)
    ok = (
        not any(hard.values())
        and flat is not False
        and not failed_runs
        and not switch_errors
        and both_served is not False
        and (republished is None or len(runs) > 0)
    )
    return {
        "ok": ok,
        "hard_errors": hard,
        "other_errors": sum(p["error_count"] for p in report["phases"]) - sum(hard.values()),
        "rss_flat": flat,
        "steady_rss_change_pct": change,
        "republish_runs": len(runs),
        "republish_failed": failed_runs,
        "alias_switch_errors": len(switch_errors),
        "alias_both_versions_answered": both_served,
    }
