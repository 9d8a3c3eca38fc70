"""The cyclic garbage collector kept out of the window's way.

Importing PyTorch or loading a model on a worker thread makes hundreds of thousands of objects;
the full collections they trigger run on that thread but hold the GIL for 50-100 ms each, and the
window stalls (bench/bench_gui.py --trace showed them). `paused()` turns the collector off while a
thread builds such things, then freezes what was built (`gc.freeze`: it lives as long as the
program, and frozen objects are never walked again) and turns it back on. Reference counting
frees everything else as usual meanwhile.
"""

from __future__ import annotations

import contextlib
import gc
import threading

_lock = threading.Lock()
_pausing = 0  # threads inside paused()


@contextlib.contextmanager
def paused():
    global _pausing
    with _lock:
        _pausing += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _pausing -= 1
            if not _pausing:  # the last one out: freeze what all of them built, then collect as usual
                gc.freeze()
                gc.enable()


def lower_thread_priority(nice: int = 10) -> None:
    """Linux: this thread at `nice` (10: below the window's and the player's; a nice value is
    per thread there, and threads it starts inherit it); elsewhere nothing changes."""
    import os
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except OSError:
            pass
