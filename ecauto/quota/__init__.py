"""Quotas held per instance: every process of one home draws from the same buckets and windows.

`rules` is the pure arithmetic (GCRA token buckets, clock windows), `shared` keeps their state
in the home's `quota.db` under SQLite's write lock, and `gates` is what clients call around each
request, waiting through the daemon so heartbeats stay fresh and a stop is honoured at once.
"""

from ecauto.quota.gates import Stopped, TokenGate, WindowGate, sleep_wait
from ecauto.quota.shared import QuotaStore

__all__ = ["QuotaStore", "Stopped", "TokenGate", "WindowGate", "sleep_wait"]
