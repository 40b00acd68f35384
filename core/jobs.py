"""One run at a time of each periodic job, whoever starts it (the beat, a second beat by
mistake, staff's "run now" in the admin, `manage.py`).

The lock is a cache key (Redis in production) taken with an atomic add and a lease of
JOB_LOCK_SECONDS that a thread of the holder renews while the job runs: a worker killed
in the middle holds it no longer than one lease, and a restarted one can run the job
again at once after that. A run that finds the job taken does nothing and says so.
"""

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def job_lock(name: str) -> Iterator[bool]:
    """Yield whether this run holds job `name`; the lock is let go when the block ends."""
    key = f"job-lock:{name}"
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lease = settings.JOB_LOCK_SECONDS
    if not cache.add(key, holder, timeout=lease):
        logger.info("job %s is running elsewhere (%s); this run does nothing", name, cache.get(key))
        yield False
        return
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease / 3):
            cache.touch(key, timeout=lease)

    renewer = threading.Thread(target=renew, name=f"job-lock-{name}", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        done.set()
        renewer.join()
        if cache.get(key) == holder:
            cache.delete(key)
