"""
gunicorn's config for bench/lookup.py: the project's own (gunicorn.conf.py), and on SIGUSR2 each worker writes its
mirror's profile hit and miss counts to `$BENCH_MIRROR_STATS/<pid>.json`, so the bench can report a hit rate (the
first report, once the worker is ready to serve, tells the bench it may start).
"""

import json
import os
import runpy
import signal
from pathlib import Path

_project = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))


def post_worker_init(worker):
    _project["post_worker_init"](worker)

    def report(_signum, _frame):
        from personalization.edge.store import store

        mirror = store._mirror
        counts = {
            "hits": mirror.hits if mirror else 0,
            "misses": mirror.misses if mirror else 0,
            "size": len(mirror.values) if mirror else 0,
        }
        path = Path(os.environ["BENCH_MIRROR_STATS"]) / ("%d.json" % os.getpid())
        path.write_text(json.dumps(counts))

    signal.signal(signal.SIGUSR2, report)
    report(None, None)  # the first report also says the worker is ready to serve
