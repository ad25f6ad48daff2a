"""gunicorn reads this file from the working directory: it runs in every worker after the app is loaded."""

import gc


def post_worker_init(worker):
    """Fill the worker's edge mirror from Redis before it takes requests, so its first lookups are warm."""
    from personalization.edge.store import store

    copied = store.warm_mirror()
    # The copies live as long as the worker: keep the garbage collector from walking them again and again.
    gc.freeze()
    worker.log.info("edge mirror: %d answers copied", copied)
