"""The watchdog's checks: small pure functions `(View, Pass) -> Step`, one module per family.

`view` reads the snapshot once; `step` is what passes between checks. Then the home itself
(`home`: unsafe, and then nothing destructive in the pass), circusd and its watchers
(`circus`), duplicates and orphans (`copies`), per watcher respawns, crash loops and the hung
check (`daemons` over `crashloops` and `hung`), the work (`work`), locks (`locks`), leftovers
(`leftovers`), the sandbox's port (`sandbox`) and the watchdog itself (`selfwatch`).
The order they run in is declared once, in `watchdog.policy.CHECKS`.
"""
