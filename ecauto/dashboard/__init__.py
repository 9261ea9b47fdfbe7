"""The operator's dashboard: one local web page for the whole instance (README "Dashboard").

It shows only what the instance already writes (heartbeats, locks, events.jsonl, the alert
outbox, ecauto.db, quota.db, the daemons' logs) and what circusd says; the watchdog's judgement
is `watchdog report`'s own (`watchdog.report.build`). Served by the `dashboard` watcher:

    read.py     what is shown, read with short read-only transactions, cached for a second or two
    charts.py   server-rendered SVG (pure)
    guard.py    the instance's secret, the session cookie, CSRF and Origin/Host checks (pure)
    actions.py  restart a daemon, retry a failed listing, send a test alert (each in events.jsonl)
    metrics.py  /metrics in the Prometheus text format (pure)
    app.py      the Starlette application
"""
