"""Reads of notifications."""

from .models import ChannelPreference


def channel_preference_for(*, user) -> ChannelPreference:
    """The subscriber's channels as stored, or the defaults when never chosen (unsaved)."""
    return ChannelPreference.objects.filter(user=user).first() or ChannelPreference(user=user)
