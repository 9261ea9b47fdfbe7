"""The Starlette application: the page, its live parts, the actions, /metrics.

Endpoints are plain functions: Starlette runs them in its thread pool, so a read (the watchdog's
look, a database) never blocks the event loop, and the cache makes concurrent viewers share it.
"""

from __future__ import annotations

import calendar
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ecauto import redact
from ecauto.config import Config
from ecauto.dashboard import actions, charts, guard, metrics
from ecauto.dashboard.read import LEVELS, RANGES, Reader
from ecauto.home import Home
from ecauto.words import common, errors
from ecauto.words.common import COMMON
from ecauto.words.dashboard import DASHBOARD
from ecauto.words.report import REPORT
from ecauto.words.report import kind as kind_word

HERE = Path(__file__).parent
PARTS = ("now", "quotas", "work", "incidents", "logs")
GOOD = {"running"}
NEUTRAL = {"off (live mode)"}
WARN = {"duplicated", "orphaned", "unknown"}


@dataclass(frozen=True)
class Site:
    home: Home
    cfg: Config
    endpoint: str  # circusd's control endpoint
    port: int
    lan: bool
    secret: str


def row_class(d: dict[str, Any], now: float, died_red_s: float) -> str:
    """The colour of a daemon's row: red for anything but running, and for a fresh death."""
    state = d.get("state", "")
    if state in NEUTRAL:
        return "neutral"
    if state in WARN:
        return "warn"
    if state not in GOOD:
        return "bad"
    died = d.get("last_death_at")
    requested = str(d.get("last_death") or "").endswith("(requested)")
    if isinstance(died, int | float) and not requested and now - died < died_red_s:
        return "bad"
    return "good"


def _clock(at: float | None, now: float | None = None) -> str:
    """Local time (what the operator's clock says), as people read it; the page says the zone
    once (`zone`), the tooltip says it in full (`stamp`)."""
    if not isinstance(at, int | float) or not at:
        return "-"
    now = time.time() if now is None else now
    fmt = "%H:%M:%S" if abs(now - at) < 86400 else "%m-%d %H:%M"
    return time.strftime(fmt, time.localtime(at))


def stamp(at: float | None) -> str:
    """A tooltip's time: the full local date and time with its zone, as `watchdog report`'s
    header says it ("2026-12-02 05:13:46 JST"); machine output alone stays UTC."""
    from watchdog.report import _clock as report_clock

    return report_clock(at) if isinstance(at, int | float) and at else ""


def zone(at: float) -> str:
    """This machine's zone at `at`, as the report names it ("JST", else "+0900")."""
    from watchdog.report import _zone

    return _zone(time.localtime(at))


def _log_at(at: str) -> float | None:
    """A log line's UTC stamp ("2026-12-01T08:00:01.250Z") in epoch seconds."""
    try:
        return float(calendar.timegm(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def _log_clock(at: str) -> str:
    """A log line's UTC stamp as the local clock, "17:00:01"."""
    t = _log_at(at)
    return at if t is None else _clock(t)


def log_stamp(at: str) -> str:
    """A log line's UTC stamp as a tooltip's local time with its zone."""
    t = _log_at(at)
    return at if t is None else stamp(t)


def platform_name(key: str) -> str:
    """A platform as people write it (BASE, eBay, Yahoo), as the alerts say it."""
    from watchdog.cyclereports import PLATFORM_NAMES

    return PLATFORM_NAMES.get(key, key)


def now_view(report: Any, lang: str, now: float, died_red_s: float) -> dict[str, Any]:
    """The Now part's rows and findings in the operator's words: `watchdog report`'s own
    (watchdog.report.cells, Finding.text and .todo), next to the report's JSON for the figures."""
    from watchdog import report as words

    rj = report.to_json()
    rows = []
    down = rj["circusd"].get("state") == "down"
    for d, j in zip(report.daemons, rj["daemons"], strict=True):
        said = words.cells(d, report.at, lang, circusd_down=down)
        said["detail"] = words.detail_text(d.detail, report.at, lang) if d.detail else ""
        said = {k: redact.scrub(v) for k, v in said.items()}
        rows.append(dict(j, css=row_class(j, now, died_red_s), said=said))
    cmd = common.shim()
    findings = []
    for f, j in zip(report.findings, rj["findings"], strict=True):
        info = j["severity"] == "info"
        findings.append(
            dict(
                j,
                severity_word=words.word(lang, "severity", j["severity"]),
                kind_word=kind_word(j["kind"], lang),
                action_word=words.word(lang, "do", j["action"]) if j["action"] != "none" else "",
                text=redact.scrub(f.text(lang)),
                todo="" if info else redact.scrub(f.todo(lang, cmd)),
            )
        )
    circusd = words.word(lang, "state", str(rj["circusd"]["state"]))
    return {
        "report": rj,
        "rows": rows,
        "findings": findings,
        "circusd_state": circusd,
        "legend": words.legend(report.window_s, lang),
    }


def environment(lang: str, key_file: Path | str = "secrets/dashboard.key") -> Environment:
    """The page's templates, their words in `lang`; `key_file` is where the page says its
    secret is (the home's `secrets/dashboard.key`)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def t(key: str, /, **params: object) -> str:
        return DASHBOARD.say(lang, key, **params)

    def dur(s: float | None) -> str:
        return "-" if s is None else common.duration(float(s), lang)

    def run_state(state: str) -> str:
        key = f"run.{state}"
        return t(key) if key in DASHBOARD.entries else state

    def col(column: str) -> str:
        return REPORT.say(lang, f"col.{column}")

    env.globals.update(
        col=col,
        stamp=stamp,
        log_stamp=log_stamp,
        platform_name=platform_name,
        range_word=lambda r: t(f"range.{r}"),
        shim=common.shim(),
        key_file=str(key_file),
        run_state=run_state,
        error_text=lambda text: errors.translate(text, lang),
        log_clock=_log_clock,
        status_word=lambda status: COMMON.say(lang, status),
        t=t,
        todo_word=lambda what: REPORT.say(lang, "found.todo", what=what),
        dur=dur,
        clock=_clock,
        gauge=charts.gauge,
        quota_chart=charts.quota_chart,
        runs_chart=charts.runs_chart,
        levels=LEVELS,
        ranges=list(RANGES),
    )
    return env


def build(site: Site, reader: Reader) -> Starlette:
    lang = site.cfg.ui.language
    key_file = guard.key_path(site.home.root)
    env = environment(lang, key_file)
    where = {"shim": common.shim(), "path": str(key_file)}

    def t(key: str, /, **params: object) -> str:
        return DASHBOARD.say(lang, key, **params)

    def status_word(status: str) -> str:
        return COMMON.say(lang, status)

    def context(request: Request) -> dict[str, Any]:
        q = request.query_params
        span = q.get("range", "6h")
        span = span if span in RANGES else "6h"
        daemon = q.get("daemon", "")
        level = q.get("level", "")
        now = time.time()
        shown = now_view(reader.report(), lang, now, site.cfg.dashboard.died_red_s)
        work = reader.work()
        runs = [
            dict(r, duration=(r["finished_at"] - r["started_at"]) if r["finished_at"] else None)
            for r in work.runs
        ]
        return {
            "lang": lang,
            "now": now,
            "zone": zone(now),
            **shown,
            "restartable": actions.RESTARTABLE,
            "quotas": reader.quotas(span),
            "span": span,
            "work": work,
            "runs": runs,
            "durations": [r["duration"] for r in reversed(runs) if r["duration"] is not None],
            "incidents": reader.incidents()[:100],
            "logs": reader.logs(daemon, level),
            "log_names": reader.log_names(),
            "daemon": daemon,
            "level": level,
            "signed_in": guard.signed_in(site.secret, request.cookies),
            "csrf": guard.csrf(site.secret)
            if guard.signed_in(site.secret, request.cookies)
            else "",
            "said": q.get("said", ""),
            "refresh_ms": int(site.cfg.dashboard.refresh_s * 1000),
            "query": urlencode({"range": span, "daemon": daemon, "level": level}),
        }

    def viewing_refused(request: Request) -> Response | None:
        if not guard.host_ok(request.headers.get("host", ""), site.port, site.lan):
            return PlainTextResponse(t("refused_host"), status_code=403)
        # On the LAN the page itself wants the secret: the figures are nobody else's business.
        if site.lan and not guard.signed_in(site.secret, request.cookies):
            return HTMLResponse(env.get_template("login.html").render(lang=lang), 401)
        return None

    def page(request: Request) -> Any:
        if (no := viewing_refused(request)) is not None:
            return no
        return HTMLResponse(env.get_template("page.html").render(context(request)))

    def live(request: Request) -> Any:
        if (no := viewing_refused(request)) is not None:
            return no
        ctx = context(request)
        parts = {p: env.get_template(f"_{p}.html").render(ctx) for p in PARTS}
        status = ctx["report"]["status"]
        at = ctx["report"]["at"]
        return JSONResponse(
            {
                "status": status,
                "status_word": status_word(status),
                "parts": parts,
                "at": _clock(at),
                "at_stamp": stamp(at),
            }
        )

    def report_json(request: Request) -> Any:
        if (no := viewing_refused(request)) is not None:
            return no
        return JSONResponse(reader.report().to_json())

    def metrics_page(request: Request) -> Any:
        if (no := viewing_refused(request)) is not None:
            return no
        body = metrics.render(reader.report().to_json(), reader.quotas("1h"), reader.work())
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    def signed(response: Any) -> Any:
        response.set_cookie(
            guard.COOKIE,
            guard.session(site.secret),
            max_age=30 * 86400,
            httponly=True,
            samesite="strict",
            path="/",
        )
        return response

    async def login(request: Request) -> Any:
        if not guard.host_ok(request.headers.get("host", ""), site.port, site.lan):
            return PlainTextResponse(t("refused_host"), status_code=403)
        if request.method == "GET":
            given = request.query_params.get("key", "")
            if not given:
                return HTMLResponse(env.get_template("login.html").render(lang=lang, t=t))
        else:
            if not guard.origin_ok(request.headers.get("origin"), request.headers["host"]):
                return PlainTextResponse(t("refused_origin"), status_code=403)
            given = (await _form(request)).get("key", "")
        if not guard.key_ok(site.secret, given):
            return HTMLResponse(
                env.get_template("login.html").render(lang=lang, t=t, wrong=True), 403
            )
        return signed(RedirectResponse("/", status_code=303))

    async def act(request: Request) -> Any:
        form = await _form(request)
        token = request.headers.get(guard.CSRF_HEADER) or form.get("csrf", "")
        why = guard.refusal(
            site.secret,
            request.cookies,
            token,
            request.headers.get("origin"),
            request.headers.get("host", ""),
            site.port,
            site.lan,
        )
        name = request.path_params["name"]
        if why is not None:
            actions.record(
                site.home, name, form.get("watcher") or None, "refused", f"dashboard.{why}"
            )
            said = t(why) + (" " + t("secret_where", **where) if why == "refused_secret" else "")
            return _answer(request, False, said, 403)
        now = time.time()
        if name == "restart" and form.get("watcher") == "dashboard":
            # Its own restart would cut the answer off: the launcher does it from outside.
            return _answer(request, False, t("restart_self", **where), 409)
        if name == "restart":
            ok, key, params = await _threaded(
                actions.restart, site.home, site.endpoint, form.get("watcher", "")
            )
        elif name == "retry":
            try:
                lid = int(form.get("id", ""))
            except ValueError:
                return _answer(request, False, t("bad_request"), 400)
            ok, key, params = await _threaded(actions.retry, site.home, lid, now)
            if "platform" in params:
                params = dict(params, platform=platform_name(str(params["platform"])))
        elif name == "test-alert":
            ok, key, params = actions.test_alert(site.home, site.cfg.mode, now, dict(os.environ))
        else:
            return _answer(request, False, t("bad_request"), 404)
        return _answer(request, ok, t(key, **params), 200 if ok else 409)

    routes = [
        Route("/", page),
        Route("/live", live),
        Route("/api/report", report_json),
        Route("/metrics", metrics_page),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/action/{name}", act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)


async def _threaded(fn: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (the page's only kind), without a multipart parser."""
    body = await request.body()
    if len(body) > 4096:
        return {}
    try:
        parsed = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[-1] for k, v in parsed.items()}


def _answer(request: Request, ok: bool, text: str, status: int) -> Any:
    """JSON for the page's script (it sent the token in a header), a redirect for a plain form."""
    if request.headers.get(guard.CSRF_HEADER) is not None or "json" in request.headers.get(
        "accept", ""
    ):
        return JSONResponse({"ok": ok, "message": text}, status_code=status)
    if status == 403:
        return PlainTextResponse(text, status_code=403)
    return RedirectResponse("/?" + urlencode({"said": text}), status_code=303)
