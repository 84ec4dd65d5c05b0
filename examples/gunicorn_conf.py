# gunicorn config for the `supervisor-checks serve` sidecar with --workers-ttl:
#
#   gunicorn -c /etc/supervisor-checks/gunicorn_conf.py --statsd-host 127.0.0.1:8125 app:application
#
# gunicorn's own StatsD support sends the `gunicorn.workers` gauge only when the
# number of workers changes, so an idle, healthy gunicorn goes quiet and the
# sidecar's gauge would expire after --workers-ttl. This hook repeats the gauge
# every HEARTBEAT_SECONDS from a thread of the master: when the master dies, the
# gauge stops and the sidecar counts no workers once --workers-ttl has passed
# (keep --workers-ttl a few times HEARTBEAT_SECONDS, e.g. 5).
#
# Only positive counts are sent. when_ready runs before the master spawns its
# first workers, so the count is 0 then: sending it would tell the sidecar
# "no workers" (a WARN in its log, /health/live 422) on every start or reload.
# A master with no workers at all says so by going quiet: the TTL handles it.
import threading
import time

HEARTBEAT_SECONDS = 1.0


def when_ready(server):
    gauge = getattr(server.log, "gauge", None)  # present only with --statsd-host
    if gauge is None:
        return

    def beat():
        while True:
            workers = len(server.WORKERS)
            if workers > 0:
                gauge("gunicorn.workers", workers)
            time.sleep(HEARTBEAT_SECONDS)

    threading.Thread(target=beat, name="workers-gauge", daemon=True).start()
