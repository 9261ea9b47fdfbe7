"""The watchdog: the second line of defence behind Circus.

One pass: `collect` takes a snapshot (processes, circusd's view, locks, heartbeats), `policy.assess`
turns it and the persisted state into findings and planned actions (pure), `execute` carries them
out. `cli` is the `watchdog` command: `report`, `scan`, `run`.
"""
