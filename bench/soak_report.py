"""bench/soak.py's report as markdown tables and lines."""

from __future__ import annotations

import json

import numpy as np

from bench.soak_stats import FLAT_PCT, WARM_UP_SHARE


def _lat(stats: dict) -> str:
    return "—" if not stats["n"] else f"{stats['p50_ms']:.1f} / {stats['p99_ms']:.1f}"


def render(report: dict) -> str:
    lines = [
        f"machine: {report['machine']['cores']} cores, load average {report['machine']['load_average_start']} at "
        f"start, {report['machine'].get('load_average_end')} at end; server "
        + " ".join(f"{k}={v}" for k, v in report["server_env"].items()),
        f"collection: {report['images']} images; {report['concurrency']} client threads, "
        f"{report['text_share']:.0%} text; uploads {len(report['uploads'])} JPEGs of "
        f"{min(u['bytes'] for u in report['uploads']) // 1024}–{max(u['bytes'] for u in report['uploads']) // 1024} KB",
        f"versions: {report['versions']['base']} (production) and {report['versions']['other']} "
        "(the same bundle + a query adapter)",
        "",
        "### Load",
        "",
        "| phase | s | requests | req/s | text n | text p50 / p99 ms | image n | image p50 / p99 ms "
        "| upload p50 / p99 | by id p50 / p99 | errors | answered by version |",
        "|---|---:|---:|---:|---:|---|---:|---|---|---|---|---|",
    ]
    for p in report["phases"]:
        errors = "; ".join(f"{k}: {v}" for k, v in sorted(p["errors"].items())) or "0"
        versions = ", ".join(f"v{k}: {v}" for k, v in sorted(p["versions"].items()))
        lines.append(
            f"| {p['phase']} | {p['seconds']:.0f} | {p['requests']} | {p['rps']:.1f} | {p['text']['n']} | "
            f"{_lat(p['text'])} | {p['image']['n']} | {_lat(p['image'])} | {_lat(p['image_upload'])} | "
            f"{_lat(p['image_id'])} | {errors} | {versions} |"
        )
    lines += [
        "",
        f"### Server RSS (MB, process and children, sampled every second; after warm-up and end are medians over "
        f"the window after {report.get('warm_up_share', WARM_UP_SHARE):.0%} of the phase and the last window)",
        "",
        "| phase | start | after warm-up | end | max | end vs warm-up | slope after warm-up MB/min "
        "| window s | samples |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in report["phases"]:
        r = p["rss"]
        if not r.get("samples"):
            lines.append(f"| {p['phase']} | — | — | — | — | — | — | — | 0 |")
            continue
        slope = "—" if r["slope_mb_per_min"] is None else f"{r['slope_mb_per_min']:+.2f}"
        lines.append(
            f"| {p['phase']} | {r['start_mb']:.0f} | {r['warm_mb']:.0f} | {r['end_mb']:.0f} | {r['max_mb']:.0f} | "
            f"{r['change_pct']:+.2f} % | {slope} | {r['window_s']:.0f} | {r['samples']} |"
        )
    steady = report["phases"][0]["rss"] if report["phases"] else {}
    last = report["phases"][-1]["rss"] if report["phases"] else {}
    if steady.get("samples") and last.get("samples"):
        whole = (last["end_mb"] - steady["warm_mb"]) / steady["warm_mb"] * 100
        lines.append(
            f"\nWhole soak: {steady['warm_mb']:.0f} MB after the first phase's warm-up → {last['end_mb']:.0f} MB "
            f"at the end ({whole:+.2f} %; a second loaded version is expected to add to it)."
        )
    for p in report["phases"]:
        if "switches" in p:
            s = p["switches"]
            ms = [x["ms"] for x in s]
            lines.append(
                f"\nAlias phase: {len(s)} moves of `production`"
                + (f" (set_alias p50 {np.median(ms):.0f} ms, max {max(ms):.0f} ms)" if ms else "")
                + f", {sum(1 for x in s if x['error'])} failed; pool at the end: "
                + json.dumps({k: p.get("pool", {}).get(k) for k in ("evictions",)})
                + ", loaded "
                + ", ".join(f"v{m['version']}" for m in p.get("pool", {}).get("loaded", []))
            )
            for x in s:
                if x["error"]:
                    lines.append(f"- move at {x['at_s']} s to v{x['to']} failed: {x['error']}")
        if "republish_runs" in p:
            lines += [
                "",
                f"Republish phase: {len(p['republish_runs'])} runs of `kedro run --pipelines "
                f"{report.get('republish_pipelines', 'publish')}` (publication.json removed before each)",
                "",
                "| run | started at s | seconds | exit | published_at |",
                "|---:|---:|---:|---|---|",
            ]
            for r in p["republish_runs"]:
                lines.append(f"| {r['run']} | {r['started_s']} | {r['seconds']} | {r['exit']} | {r['published_at']} |")
            for r in p["republish_runs"]:
                if r["exit"] != 0:
                    lines.append(f"\nrun {r['run']} failed; end of {r['log']}:\n```\n{r.get('log_tail', '')}\n```")
    if report.get("error_examples"):
        lines += ["", "First error answers:"]
        lines += [
            f"- {e['at_s']} s {e['kind']} {e['status']}: {e['detail'][:200]}" for e in report["error_examples"][:10]
        ]
    if report.get("server_log_problems"):
        lines += ["", "Server log lines with an error or warning:", "```"]
        lines += report["server_log_problems"][:40]
        lines += ["```"]
    v = report["verdict"]
    hard = sum(v["hard_errors"].values())
    lines += [
        "",
        f"5xx / connection errors / timeouts: {hard}"
        + (f" (by phase {v['hard_errors']})" if hard else "")
        + f"; other non-200 answers: {v['other_errors']}",
        f"RSS flat within {FLAT_PCT:.0f} % (steady phase, end vs after warm-up): "
        + {True: "yes", False: "no", None: "n/a (no steady phase)"}[v["rss_flat"]]
        + (f" ({v['steady_rss_change_pct']:+.2f} %)" if v["steady_rss_change_pct"] is not None else ""),
        f"alias moves failed: {v['alias_switch_errors']}; both versions answered during the alias phase: "
        + {True: "yes", False: "no", None: "n/a"}[v["alias_both_versions_answered"]],
        f"republish runs: {v['republish_runs']}, failed: {v['republish_failed'] or 'none'}",
        f"verdict: {'PASS' if v['ok'] else 'FAIL'} (total {report['total_seconds']:.0f} s; logs in {report['logs']})",
    ]
    return "\n".join(lines)
