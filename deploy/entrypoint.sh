#!/bin/sh
# SessionHub container entrypoint: one image, the command selects the process.
#   web        gunicorn with deploy/gunicorn.conf.py (PORT, WEB_CONCURRENCY, GUNICORN_THREADS …)
#   worker     sessionhub worker: RQ worker + RQ scheduler + the sweep ticker
#   scheduler  the same `sessionhub worker` (there is no separate scheduler process yet): every
#              worker runs RQ's scheduler (RQ elects one through a Redis lock) and the sweep
#              ticker, which claims each period with SET NX in Redis, so any number run safely
#              in parallel; a `scheduler` service only guarantees one is always up
#   migrate    sessionhub migrate (alembic upgrade head), then exit
#   anything else is run as given (e.g. `sessionhub api-key create platform`)
# `exec` keeps the process PID 1, so the orchestrator's SIGTERM reaches it directly (RQ then
# finishes the current job; gunicorn finishes in-flight requests within graceful_timeout).
set -eu

GUNICORN_CONF="${GUNICORN_CONF:-/app/deploy/gunicorn.conf.py}"

cmd="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$cmd" in
  web)
    exec gunicorn -c "$GUNICORN_CONF" "$@" "app:create_app()"
    ;;
  worker|scheduler)
    exec sessionhub worker "$@"
    ;;
  migrate)
    exec sessionhub migrate "$@"
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac
