"""A file's analysis in a process of its own, so that the window never waits for it.

The window plays video, paints and draws plots on one Python thread. An analysis on another
thread of the same process shared its interpreter lock: the model's Python code, the decoder's
and the collector's pauses delayed the window's repaints on a two-core machine
(bench/RESULTS.md, the stalls over 50 ms). Here the analysis runs in an `AnalysisProcess`, a
child started with multiprocessing's "spawn" (safe beside Qt's threads, and what the frozen
program's `multiprocessing.freeze_support()` serves), at a lower CPU priority than the window.

A child serves one job at a time and then the next: it imports torch and the engine as soon as
it starts (`processes.prewarm()` starts one while the window is still opening), so that opening
a file does not wait for an import, and switching models or files reuses it. Messages, over one
pipe:

    parent → child   ("analyse", AnalysisRequest)   ("cancel",)
    child → parent   ("ready", {"cuda": bool, "mps": bool})   once, when it has imported torch
                     ("model", card, sha256, description, PredictorInfo)
                     ("times", [seconds])  ("windows", [WindowResult], PredictorInfo)
                     ("progress", frames)  ("done", AnalysisResult, cached): the result's
                     windows only when cached (otherwise each came in a "windows" message)
                     ("cancelled",)  ("failed", message)

Every job ends with exactly one of the last three; only then does its process take another.
A child whose parent is gone (its pipe closed) exits at once. `processes.shutdown()` ends every
child now: the caches it writes are written atomically, so nothing is left half-written. No Qt.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import queue
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MAX_IDLE = 2  # the window runs at most two models at once (Compare with)


@dataclass(frozen=True)
class AnalysisRequest:
    """One file's analysis, as the window asks for it. `environment` is the parent's at the time
    of asking (a child reused for a later job must see the caches and model folders the parent
    sees now, not when it was started)."""

    model: str | None  # a catalog spec; None = the shipped default
    source: Path
    device: str = "auto"
    precision: str = "auto"
    hop: int = 8  # 0: the model's default
    use_cache: bool = True
    batch_size: int = 4
    environment: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PredictorInfo:
    """What the window says of the predictor it does not hold: its device ("cpu", "cuda:0"), the
    precision chosen and why, and the GPU memory it had allocated at the last message."""

    device: str
    precision_used: str
    precision_note: str
    gpu_mib: float | None = None

    @property
    def device_type(self) -> str:
        return self.device.split(":")[0]

    @classmethod
    def of(cls, predictor) -> "PredictorInfo":
        gpu = None
        if predictor.device.type == "cuda":
            import torch

            gpu = torch.cuda.memory_allocated(predictor.device) / 2**20
        return cls(str(predictor.device), predictor.precision_used, predictor.precision_note, gpu)


# -- the child ------------------------------------------------------------------------------------
def lower_priority() -> None:
    """This whole process below the window's: on a busy machine the window and the player get
    the CPU first and the analysis takes the rest."""
    try:
        if sys.platform == "win32":
            import ctypes

            kernel = ctypes.windll.kernel32
            kernel.SetPriorityClass(kernel.GetCurrentProcess(), 0x00004000)  # BELOW_NORMAL_PRIORITY_CLASS
        else:
            os.nice(10)
            if hasattr(os, "SCHED_IDLE"):  # Linux: runs only on a CPU nothing else wants, and gives it up at once
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):
        pass


def _serve(conn) -> None:
    """The child's main: import the engine, then analyse each request that comes."""
    lower_priority()
    logging.basicConfig(level=logging.WARNING, format="vivit-desktop analysis: %(levelname)s %(message)s")
    from ..cancel import CancelToken

    jobs: queue.Queue = queue.Queue()
    current: list = [None]  # the token of the newest job

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the window's process is gone: nobody to analyse for
                os._exit(0)
            if message[0] == "cancel":
                if current[0] is not None:
                    current[0].cancel()
            elif message[0] == "analyse":
                current[0] = token = CancelToken()
                jobs.put((message[1], token))

    threading.Thread(target=listen, name="vivit-analysis-pipe", daemon=True).start()
    broken = ""  # why the engine cannot be imported (a broken install): each job is told
    try:
        from .. import catalog  # noqa: F401 - torch and the engine, imported while nobody waits
        from . import service  # noqa: F401
        from .predictor import device_available

        conn.send(("ready", {kind: device_available(kind) for kind in ("cuda", "mps")}))
    except Exception as e:  # noqa: BLE001 - said to the window, with the traceback on stderr
        log.exception("the analysis engine cannot be imported")
        broken = f"the analysis engine cannot be imported ({type(e).__name__}: {e}); reinstall the program"

    while True:
        request, token = jobs.get()
        try:
            if broken:
                conn.send(("failed", broken))
            else:
                _analyse(request, token, conn.send)
        except (EOFError, OSError, BrokenPipeError):
            os._exit(0)


def _analyse(request: AnalysisRequest, token, send) -> None:
    from .. import catalog
    from ..cancel import Cancelled
    from ..errors import VivitError, one_line
    from .analysis import WindowSettings
    from .predictor import Predictor
    from .service import analyse_video
    from .windows import default_hop

    os.environ.clear()
    os.environ.update(request.environment)
    try:
        model, sha, description = catalog.load(request.model)
        predictor = Predictor(model, device=request.device, leave_a_core=True, precision=request.precision)
    except Exception as e:  # noqa: BLE001 - any load failure is the user's to see
        send(("failed", f"cannot load the model {request.model or '(default)'}: {one_line(e)}"))
        return
    send(("model", model.card, sha, description, PredictorInfo.of(predictor)))
    hop = request.hop or default_hop(model.card)
    decoded = 0

    def tick(n: int) -> None:
        nonlocal decoded
        decoded += n
        if decoded % 8 == 0:
            send(("progress", decoded))

    try:
        result, cached = analyse_video(
            request.source, predictor, sha, WindowSettings(hop=hop, batch_size=request.batch_size),
            use_cache=request.use_cache, progress=lambda stage, description, total, work: work(tick),
            on_windows=lambda batch: send(("windows", list(batch), PredictorInfo.of(predictor))), cancel=token,
            on_times=lambda times: send(("times", list(times))),
            need_spatial=True,  # the heatmap can be turned on at any time
            decoder_threads=1)  # the CPU's other core is the player's and the window's
    except Cancelled:
        send(("cancelled",))
        return
    except Exception as e:  # noqa: BLE001 - a message, never a silent death
        if isinstance(e, (VivitError, ValueError, OSError)):  # the file's or the model's fault: its message says it
            log.info("analysis of %s failed: %s", request.source, e)
        else:  # a bug: its traceback goes to the log
            log.exception("analysis failed")
        send(("failed", f"analysis of {request.source.name} failed: {one_line(e)}"))
        return
    if not cached:  # every window went in a "windows" message: not again (unpickling a whole
        # result's windows held the window process's interpreter lock for tens of ms at the end)
        result = dataclasses.replace(result, windows=[], _frame_probs=None, _post_cache=None, _timebase=None)
    send(("done", result, cached))


# -- the parent -----------------------------------------------------------------------------------
class ProcessDied(RuntimeError):
    pass


class AnalysisProcess:
    """One child and the parent's end of its pipe. `send` may be called from any thread."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(child,), name="vivit-analysis", daemon=True)
        self.process.start()
        child.close()
        self._lock = threading.Lock()

    def send(self, message) -> None:
        with self._lock:
            self.conn.send(message)

    def receive(self, timeout: float):
        """The next message, or None after `timeout` seconds without one. Raises ProcessDied
        when the child has ended."""
        try:
            if not self.conn.poll(timeout):
                return None
            message = self.conn.recv()
            if message[0] == "ready":  # what the machine has, for the window's Device menu
                processes.devices.update(message[1])
                return None
            return message
        except (EOFError, OSError):
            self.process.join(1.0)
            code = self.process.exitcode
            how = (f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}")
            raise ProcessDied(f"the analysis process ended unexpectedly ({how}; out of memory? Its messages, "
                              "if any, are on the terminal's error output)") from None

    @property
    def alive(self) -> bool:
        if not self.process.is_alive():
            return False
        if os.name == "posix":  # is_alive says True for a child someone else reaped (waitpid fails): ask the OS
            try:
                os.kill(self.process.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
        return True

    def kill(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass
        try:
            self.process.kill()  # (a process that has ended already: nothing happens)
        except (OSError, ValueError):
            pass


class Processes:
    """The children of this process: idle ones waiting for a job, busy ones running one."""

    def __init__(self) -> None:
        self._idle: list[AnalysisProcess] = []
        self._busy: set[AnalysisProcess] = set()
        self._lock = threading.Lock()
        self.devices: dict[str, bool] = {}  # {"cuda": available?, "mps": …} once a child has said

    def device_available(self, kind: str) -> bool | None:
        """Whether the machine has this kind of device, as the analysis processes see it; None
        until one has started (the window imports no torch to find out)."""
        return True if kind == "cpu" else self.devices.get(kind)

    def prewarm(self) -> None:
        """Start a child now (it imports the engine while the window opens), unless one waits."""
        with self._lock:
            if not self._idle:
                self._idle.append(AnalysisProcess())

    def acquire(self) -> AnalysisProcess:
        with self._lock:
            while self._idle:
                process = self._idle.pop()
                if process.alive:
                    break
                process.kill()
            else:
                process = AnalysisProcess()
            self._busy.add(process)
            return process

    def release(self, process: AnalysisProcess, reusable: bool) -> None:
        """A job has ended: keep its child for the next (`reusable`: it said how it ended), or end it."""
        with self._lock:
            self._busy.discard(process)
            if reusable and process.alive and len(self._idle) < MAX_IDLE:
                self._idle.append(process)
                return
        process.kill()

    def shutdown(self) -> None:
        """End every child now, busy or not."""
        with self._lock:
            everyone = self._idle + list(self._busy)
            self._idle, self._busy = [], set()
        for process in everyone:
            process.kill()

    @property
    def count(self) -> int:
        return len(self.pids())

    def pids(self) -> set[int]:
        """The process ids of the children, idle and busy."""
        with self._lock:
            return {p.process.pid for p in self._idle + list(self._busy)}


processes = Processes()
