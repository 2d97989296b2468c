"""`sessionhub worker` with RQ's non-forking SimpleWorker (the app stays loaded; RQ's job
timeout still applies): `python -m tests.bench.simple_worker`. Benchmarks compare it with the
forking default."""

from __future__ import annotations

import rq

from jobs import worker

if __name__ == "__main__":
    rq.Worker = rq.SimpleWorker  # type: ignore[misc]  # work() imports rq.Worker when called
    worker.work()
