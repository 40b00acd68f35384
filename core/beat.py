"""The beat's scheduler: django-celery-beat's (schedules kept in the database, where staff
see, pause and run them from the admin) that sends only while it leads.

Two beats started by mistake, or a new one before the old one stopped, would send every
job twice. Each beat renews a cache key naming it as leader on every tick; only the
holder sends, the other waits as a standby and takes over within BEAT_LEADER_SECONDS of
the leader stopping. Each job has its own lock besides (core.jobs).
"""

import logging
import os
import socket
import uuid

from django.conf import settings
from django.core.cache import cache
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)

LEADER_KEY = "beat-leader"


class LeaderScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self.beat_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if not self._lead():
            return min(self.max_interval, settings.BEAT_LEADER_SECONDS / 3)
        return super().tick(*args, **kwargs)

    def _lead(self) -> bool:
        lease = settings.BEAT_LEADER_SECONDS
        leading = cache.add(LEADER_KEY, self.beat_id, timeout=lease) or (
            cache.get(LEADER_KEY) == self.beat_id and cache.touch(LEADER_KEY, timeout=lease)
        )
        if leading != self.leading:
            logger.warning("beat %s %s", self.beat_id, "leads" if leading else "waits as a standby")
            self.leading = leading
        return leading
