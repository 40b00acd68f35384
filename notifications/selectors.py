"""Reads of notifications."""

from core.queries import Param, Prepared

from .models import ChannelPreference

_PREFERENCE = Prepared(lambda: ChannelPreference.objects.filter(user_id=Param("user"))[:1])


def channel_preference_for(*, user) -> ChannelPreference:
    """The subscriber's channels as stored, or the defaults when never chosen (unsaved)."""
    for preference in _PREFERENCE.list(user=user.pk):
        return preference
    return ChannelPreference(user=user)
