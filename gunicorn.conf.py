"""
gunicorn reads this file from the working directory: how its workers start and write responses.

`OneWriteResponse` subclasses gunicorn's response and reads its internals (`headers_sent`, `chunked`,
`response_length`, `default_headers`), which a major release may change: pyproject.toml pins gunicorn below
its next major version, and tests/test_gunicorn_conf.py checks the patch against the installed one.

Metrics (`personalization.edge.metrics`): the workers write their values to PROMETHEUS_MULTIPROC_DIR, which
`on_starting` prepares (a fresh temporary folder unless the environment names one) before any worker imports
prometheus-client, and `child_exit` tells it when a worker is gone, so `/metrics` sums the live ones.
"""

import gc
import os
import tempfile
from pathlib import Path

from gunicorn import util
from gunicorn.http import wsgi


class OneWriteResponse(wsgi.Response):
    """
    Send the head and a whole body in one write when the body comes in one piece with its length.

    gunicorn writes the head, then the body: two packets, and a client that reads in between wakes up twice.
    Edge answers (the fast-path middleware) and the UI's pages (CommonMiddleware) carry a Content-Length and
    come as one piece, so one write delivers each; anything else (streams, chunks, HEAD) goes gunicorn's way.
    """

    def write(self, arg):
        if (
            self.headers_sent
            or self.chunked
            or self.req.method == "HEAD"
            or type(arg) is not bytes
            or not arg
            or self.response_length != len(arg)
        ):
            return super().write(arg)
        head = self.default_headers()
        head.extend("%s: %s\r\n" % header for header in self.headers)
        util.write(self.sock, util.to_bytestring("%s\r\n" % "".join(head), "latin-1") + arg)
        self.headers_sent = True
        self.sent += len(arg)
        return None


# gunicorn builds each request's response from this name (`wsgi.create`); workers fork from this process.
wsgi.Response = OneWriteResponse


def post_worker_init(worker):
    """Fill the worker's edge mirror from Redis before it takes requests, so its first lookups are warm."""
    from personalization.edge.store import store

    copied = store.warm_mirror()
    # The copies live as long as the worker: keep the garbage collector from walking them again and again.
    gc.freeze()
    worker.log.info("edge mirror: %d answers copied", copied)


def on_starting(server):
    """Give the workers an empty folder for their metric values (stale files would be summed in)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        folder = tempfile.mkdtemp(prefix="cpc-prometheus-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    server.log.info("metrics: worker values in %s", folder)


def child_exit(server, worker):
    """Drop an exited worker's live gauges from what `/metrics` reports."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
