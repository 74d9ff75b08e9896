"""The scheduler: cron jobs per newsletter, a run ledger, catch-up, approval.

``run_period`` is the single path for every run (daemon, catch-up, ``digest run``).
"""

from digest.schedule.runs import RunResult, default_runner, run_period

__all__ = ["RunResult", "default_runner", "run_period"]
