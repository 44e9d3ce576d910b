"""Progress and cancellation for long core work, shared by widgets and the CLI (no Qt).

Core functions take ``on_progress(fraction)`` and ``should_stop()``; widgets adapt Orange's
``TaskState`` to them, the CLI a terminal progress line.
"""
from typing import Callable, Optional

ProgressCallback = Callable[[float], None]
StopCheck = Callable[[], bool]


class Cancelled(Exception):
    """Raised inside core work when ``should_stop()`` says the user cancelled."""


def no_progress(_fraction: float) -> None:
    """Default progress callback: ignore."""


def never_stop() -> bool:
    """Default stop check: run to the end."""
    return False


def check_stop(should_stop: Optional[StopCheck]) -> None:
    """Raise :class:`Cancelled` when a stop was requested."""
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled")


def scaled(on_progress: ProgressCallback, start: float, end: float) -> ProgressCallback:
    """A callback mapping 0..1 of a sub-step onto ``start..end`` of the whole."""
    return lambda fraction: on_progress(start + (end - start) * fraction)
