"""One way to stop work, for every workflow (analysis, download, export, live feed).

The caller makes a `CancelToken`, hands it to the work and calls `cancel()` from any thread (a
Cancel button, Ctrl+C, a Ray actor's `cancel`); the work asks it between steps, with
`raise_if_cancelled()` or `cancelled`, and stops by raising `Cancelled`, leaving nothing
half-written (superqt's workers abort the same way: a flag the worker checks, never a thread
killed from outside). No Qt."""

from __future__ import annotations

import threading

from .errors import VivitError


class Cancelled(VivitError):
    """The work's token was cancelled; it stopped and kept nothing half-done."""

    exit_code = 130  # as an interrupted command

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class CancelToken:
    """A thread-safe, one-way flag: once cancelled, it stays cancelled."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at its next check; returns at once."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, message: str = "cancelled") -> None:
        """Raise `Cancelled(message)` if the token was cancelled."""
        if self._event.is_set():
            raise Cancelled(message)

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to `timeout` seconds (None: until cancelled), waking at once when cancelled;
        returns whether the token is cancelled."""
        return self._event.wait(timeout)

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self.cancelled})"
