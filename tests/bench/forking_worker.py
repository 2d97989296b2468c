"""`sessionhub worker` with RQ's default, forking Worker (a work horse forked per job):
`python -m tests.bench.forking_worker`. The benchmarks compare it with the production worker,
which runs jobs without forking (jobs/worker.py)."""

from __future__ import annotations

import rq

from jobs import worker

if __name__ == "__main__":
    rq.SimpleWorker = rq.Worker  # type: ignore[misc]  # work() imports it when called
    worker.work()
