"""/metrics: the page's figures in the Prometheus text format (version 0.0.4), pure.

Language-neutral: metric names, label values that are keys (daemon, limiter, platform, state).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ecauto.dashboard.read import Limiter, Work

STATUS_CODE = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}


def _label(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _lines(
    name: str, kind: str, help_: str, samples: Iterable[tuple[dict[str, str], float]]
) -> list[str]:
    out = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        out.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")
    return out


def render(report: dict[str, Any], quotas: Sequence[Limiter], work: Work) -> str:
    daemons = report.get("daemons", [])
    out = _lines(
        "ecauto_status",
        "gauge",
        "Overall status as watchdog report gives it: 0 ok, 1 warning, 2 critical, 3 unknown.",
        [({}, STATUS_CODE.get(report.get("status", "unknown"), 3))],
    )
    out += _lines(
        "ecauto_up",
        "gauge",
        "1 when the daemon runs (circusd's status active), else 0.",
        [({"daemon": d["name"]}, 1.0 if d["state"] == "running" else 0.0) for d in daemons],
    )
    out += _lines(
        "ecauto_restarts",
        "gauge",
        "Restarts and respawns of the daemon in the watchdog's restart window.",
        [({"daemon": d["name"]}, d["restarts_in_window"]) for d in daemons],
    )
    out += _lines(
        "ecauto_heartbeat_age_seconds",
        "gauge",
        "Age of the daemon's heartbeat.",
        [
            ({"daemon": d["name"]}, d["heartbeat_age_s"])
            for d in daemons
            if d.get("heartbeat_age_s") is not None
        ],
    )
    out += _lines(
        "ecauto_quota_use_ratio",
        "gauge",
        "Use of each limiter against its limit now (a window's count, or the last bar's rate).",
        [({"limiter": q.key, "window": q.measure}, round(q.now_share, 4)) for q in quotas],
    )
    out += _lines(
        "ecauto_quota_throttled",
        "gauge",
        "Throttled answers (429, a spent window) in the shown range.",
        [({"limiter": q.key}, q.throttled) for q in quotas],
    )
    out += _lines(
        "ecauto_queue_listings",
        "gauge",
        "Listings in the upload queue by platform and state.",
        [
            ({"platform": p, "state": s}, n)
            for p, states in sorted(work.queue.items())
            for s, n in sorted(states.items())
        ],
    )
    last = next((r for r in work.runs if r.get("finished_at")), None)
    if last is not None:
        out += _lines(
            "ecauto_sync_last_cycle_seconds",
            "gauge",
            "Duration of the last finished sync cycle.",
            [({}, round(last["finished_at"] - last["started_at"], 3))],
        )
    pending = report.get("alerts_pending")
    if pending is not None:
        out += _lines(
            "ecauto_alerts_pending", "gauge", "Alerts waiting in the outbox.", [({}, pending)]
        )
    return "\n".join(out) + "\n"
