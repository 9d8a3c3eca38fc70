"""The base of the project's own errors.

A `VivitError` is a problem the user can act on (a file that is no video, a checkpoint that does
not load, a download that failed): its message is one line they read, and `exit_code` is the
status the command line exits with. Each domain error also keeps the built-in class it has always
had (ValueError, OSError, ...), so `except ValueError` around the core still catches it.
Anything that is not a VivitError (nor an OSError or ValueError from the standard library) is a
bug: the command line prints one line, and the traceback with -v."""

from __future__ import annotations


class VivitError(Exception):
    """A problem the user can fix; printed as one line, the command line exits with `exit_code`."""

    exit_code = 1


def one_line(error: BaseException) -> str:
    """An error's message on one line (its type's name when it has none)."""
    return " ".join((str(error) or type(error).__name__).split())
