"""`vivit-desktop analyze VIDEOS... --ray [ADDRESS]`: an archive analysed on a Ray cluster.

One Ray task per video, run by a pool of actors (`VideoWorker`, one per worker process): each
loads the model once, then analyses video after video with `engine.service.run_job`, the very
function the local `analyze` loop runs, so a video's results, exports and sidecar cache entry are
those of a local run. This process (the driver) plans the outputs, skips videos whose results
exist and match, hands each idle worker the next video, shows one progress bar, reports every
video that failed, and on Ctrl+C cancels what runs on the cluster.

A worker that dies (killed, out of memory, its node lost) is restarted by Ray and its video
retried (`max_task_retries`); a video that fails every time is reported, never dropped.

What the cluster must provide: vivit-desktop (this version) on every node, and the videos and the
output folder at the same paths on every node (a shared file system). The model travels through
Ray's object store. Ray is imported only when a cluster is used. No Qt."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import socket
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import __version__
from .cancel import CancelToken, Cancelled
from .errors import VivitError, one_line as _one_line

if TYPE_CHECKING:  # the engine (and PyTorch) load only when a run starts
    from .engine.service import AnalysisJob, JobOutcome

log = logging.getLogger(__name__)

RAY_MISSING = ("--ray needs Ray, which is not installed: pip install 'vivit-desktop[cluster]' (here and on every "
               "node of the cluster)")
POLL_S = 0.5  # how often the driver asks the busy workers how far they are
CANCEL_WAIT_S = 20.0  # after Ctrl+C, how long running videos get to stop at their next frame


class ClusterError(ValueError, VivitError):
    """A problem with the cluster the user can fix (no Ray, an unreachable address, no GPU)."""


def import_ray():
    try:
        import ray
    except ImportError as e:
        raise ClusterError(RAY_MISSING) from e
    return ray


_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9._-]+):\d{1,5}$")


def check_address(text: str) -> str:
    """A Ray address as `--ray` takes it: "" (a local instance), auto, ray://HOST:PORT (Ray Client)
    or HOST:PORT (the head's GCS port, from a machine inside the cluster); ValueError otherwise."""
    if text in ("", "auto") or _HOST_PORT.match(text) or (text.startswith("ray://") and _HOST_PORT.match(text[6:])):
        return text
    raise ValueError(f"{text!r} is not a Ray address: give auto, ray://HOST:PORT or HOST:PORT (and put --ray after "
                     "the videos, or write --ray=ADDRESS)")


# -- the model, shipped to the workers ----------------------------------------------------------
@dataclass(frozen=True)
class ModelFiles:
    """A checkpoint's bytes, sent once through the object store: the workers need not see the
    driver's model folders, and hash exactly what the driver hashed."""
    name: str  # the checkpoint's file stem
    suffix: str  # of the weights file (.safetensors)
    weights: bytes
    card: str  # NAME.json
    sha256: str  # what the results record as the model's hash (RANDOM_WEIGHTS for an architecture)


def model_files(spec, model, model_hash: str) -> ModelFiles:
    """The files of the model `spec` names (as catalog.resolve takes it), already loaded as `model`.
    An architecture's random weights are saved first, so that every worker has the same ones."""
    from .catalog import RANDOM_WEIGHTS, resolve
    from .fileio import sha256_file
    from .model.checkpoint import checkpoint_files, save_model

    target = resolve(spec)
    with tempfile.TemporaryDirectory(prefix="vivit-cluster-") as tmp:
        if isinstance(target, str):
            weights, card = save_model(model, Path(tmp) / target)
        else:
            weights, card = checkpoint_files(target)
        if model_hash != RANDOM_WEIGHTS and sha256_file(weights) != model_hash:
            raise ClusterError(f"{weights} changed while it was being loaded; run again")
        return ModelFiles(weights.stem, weights.suffix, weights.read_bytes(), card.read_text(encoding="utf-8"),
                          model_hash)


# -- the worker ----------------------------------------------------------------------------------
@dataclass
class TaskReport:
    """What a worker sends back for one video: its outcome, or the one line saying why not."""
    video: Path
    outcome: JobOutcome | None = None
    error: str = ""
    cancelled: bool = False
    seconds: float = 0.0  # the worker's wall time on this video (run_job, start to end)


class VideoWorker:
    """A Ray actor (ray.remote(VideoWorker)): the model loaded once per process, then one video per
    `analyze` call. Two threads: `analyze` on one, `progress` and `cancel` on the other.

    The model comes as [ref] to the object store with every call, not to the constructor: a
    reference nested in a list is not fetched by Ray, so it costs nothing once the model is
    loaded, and a worker that Ray restarts (which forgets everything) loads it again from there.
    The driver holds the reference for the whole run."""

    def __init__(self, device: str, precision: str, threads: int | None, version: str) -> None:
        if version != __version__:
            raise RuntimeError(f"this node has vivit-desktop {__version__}, the driver {version}; install the same "
                               "version on every node")
        self.device, self.precision, self.threads = device, precision, threads
        self.predictor = None
        self.model_hash = ""
        self.cache = None
        self._frames = 0
        self._cancel = CancelToken()
        self._loading = threading.Lock()

    def load(self, shipped: list) -> dict:
        """Load the model unless this process has it, and say what the worker runs on."""
        with self._loading:
            if self.predictor is None:
                self._load(shipped[0])
        return self.describe()

    def _load(self, ref) -> None:
        import ray
        import torch

        from .catalog import RANDOM_WEIGHTS
        from .engine.cache import ResultCache
        from .engine.predictor import Predictor
        from .fileio import sha256_file
        from .model.checkpoint import load_model

        files: ModelFiles = ray.get(ref)
        with tempfile.TemporaryDirectory(prefix="vivit-worker-") as tmp:
            weights = Path(tmp) / f"{files.name}{files.suffix}"
            weights.write_bytes(files.weights)
            (Path(tmp) / f"{files.name}.json").write_text(files.card, encoding="utf-8")
            if files.sha256 != RANDOM_WEIGHTS and sha256_file(weights) != files.sha256:
                raise RuntimeError("the model arrived damaged (its SHA-256 differs)")
            model = load_model(weights)
        predictor = Predictor(model, device=self.device, precision=self.precision)
        if predictor.device.type == "cpu" and self.threads:
            # fewer threads than the node's cores (what a local run uses) is faster when workers
            # share a node, but sums in another order: the last digit of a probability may differ
            torch.set_num_threads(self.threads)
        self.model_hash = files.sha256
        self.cache = ResultCache()  # the sidecar cache of the node the worker runs on
        self.predictor = predictor

    def describe(self) -> dict:
        import torch

        p = self.predictor
        threads = f", {torch.get_num_threads()} torch threads" if p.device.type == "cpu" else ""
        return {"pid": os.getpid(), "host": socket.gethostname(), "device": f"{p.device}, {p.precision_used}{threads}",
                "note": p.precision_note}

    def _progress(self, stage: str, description: str, total, work):
        return work(self._tick if stage == "analysis" else None)

    def _tick(self, n: int) -> None:
        self._frames += n

    def analyze(self, job: AnalysisJob, shipped: list) -> TaskReport:
        from .engine.service import run_job

        self.load(shipped)  # a restarted worker's first video
        self._frames = 0
        started = time.perf_counter()
        try:
            report = TaskReport(job.video, outcome=run_job(job, self.predictor, self.model_hash, self.cache,
                                                           self._progress, self._cancel))
        except Cancelled:
            report = TaskReport(job.video, error=f"{job.video}: cancelled", cancelled=True)
        except (VivitError, ValueError, OSError) as e:  # the local loop catches the same
            text = str(e)
            report = TaskReport(job.video, error=text if text.startswith(str(job.video)) else f"{job.video}: {text}")
        except Exception as e:  # noqa: BLE001 - a bug: reported with the video, the others go on
            report = TaskReport(job.video, error=f"{job.video}: unexpected error ({type(e).__name__}: "
                                                 f"{_one_line(e)}); this is a bug: run it alone with -v for the "
                                                 "traceback and report it")
        report.seconds = time.perf_counter() - started
        return report

    def progress(self) -> tuple[int, int]:
        """(this process's id, frames of the current video analysed so far)."""
        return os.getpid(), self._frames

    def cancel(self) -> None:
        """Stop the running analysis at its next frame (nothing of it is written) and any later one."""
        self._cancel.cancel()


# -- the driver ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterOptions:
    address: str | None = None  # None: start a local Ray instance; else auto, ray://HOST:PORT, HOST:PORT
    workers: int | None = None  # default: as many as the cluster's CPUs (or GPUs) hold
    cpus_per_task: float = 1.0
    threads: int | None = None  # torch threads per worker on a CPU; None: as a local run (the node's cores)
    gpus_per_task: float | None = None  # default: 1 where the cluster has GPUs, else 0
    retries: int = 2  # a lost worker's video is tried again this many times
    device: str = "auto"
    precision: str = "auto"
    progress: bool = True
    verbose: bool = False  # forward the workers' own log lines


@dataclass
class ClusterReport:
    outcomes: list[JobOutcome] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one line per video that failed
    skipped: int = 0  # results existed and matched
    retried: int = 0  # worker losses seen while a video ran
    workers: int = 0
    frames: int = 0  # frames analysed (not read from the cache)
    seconds: float = 0.0  # from the first video handed out to the last result
    busy_seconds: float = 0.0  # the workers' own time on the videos (run_job), summed

    @property
    def overhead_per_video(self) -> float:
        """What the cluster adds per video beyond the work itself: scheduling, shipping jobs and
        results, progress polls, and workers idle at the end (exact with one worker)."""
        videos = len(self.outcomes) + len(self.failed)
        return (self.seconds * self.workers - self.busy_seconds) / videos if videos else 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Busy:
    job: AnalysisJob
    ref: object
    attempt: int = 1
    frames: int = 0
    lost: bool = False  # a loss was reported and the restarted worker has not answered yet


def analyze_on_cluster(jobs: list[AnalysisJob], files: ModelFiles, card, options: ClusterOptions,
                       out: Callable[[str], None] | None = None,
                       err: Callable[[str], None] | None = None) -> ClusterReport:
    """Analyse `jobs` on the cluster; `out` gets each video's summary lines, `err` one line per
    failed video and the run's status. Skips jobs whose results exist and match (the report
    counts them). KeyboardInterrupt cancels the cluster's tasks, then propagates."""
    from .engine.service import results_match

    stdout, stderr = sys.stdout, sys.stderr
    out = out or (lambda line: print(line, file=stdout, flush=True))
    err = err or (lambda line: print(line, file=stderr, flush=True))
    report = ClusterReport()
    todo = [job for job in jobs if not results_match(job, card, files.sha256)]
    report.skipped = len(jobs) - len(todo)
    if report.skipped:
        err(f"skipped {report.skipped} (results exist)")
    if not todo:
        return report
    ray = import_ray()
    # Ray prints its own notices (a worker died, a task will be retried) to sys.stdout from a
    # thread of its own; stdout is for the results' summaries, so Ray's go to stderr meanwhile
    with contextlib.redirect_stdout(sys.stderr):
        _run(ray, todo, files, card, options, report, out, err)
    return report


def _run(ray, todo, files: ModelFiles, card, options: ClusterOptions, report: ClusterReport, out, err) -> None:
    started_ray = not ray.is_initialized()  # else the caller is connected and stays so
    folders = {p.parent for job in todo for p in (job.out, job.annotated) if p is not None}
    actors: list = []
    try:
        if started_ray:
            _connect(ray, options)  # inside the try: Ctrl+C while a local instance starts still stops it
        gpus, count = _plan(ray, options, len(todo))
        report.workers = count
        where = options.address or "a local Ray instance"
        err(f"{card.name}: {count} worker{'s' if count > 1 else ''} on {where} ({options.cpus_per_task:g} CPU"
            f"{f', {gpus:g} GPU' if gpus else ''} each), hop {todo[0].settings.hop}, {len(todo)} video"
            f"{'s' if len(todo) > 1 else ''}")
        remote = ray.remote(VideoWorker).options(
            num_cpus=options.cpus_per_task, num_gpus=gpus, max_restarts=-1, max_task_retries=options.retries,
            max_concurrency=2)
        files_ref = ray.put(files)  # once, for every worker; held until the run ends
        actors = [remote.remote(options.device, options.precision, options.threads, __version__)
                  for _ in range(count)]
        _Dispatcher(ray, actors, [files_ref], todo, options, report, out, err).run()
    finally:
        try:
            if started_ray:
                ray.shutdown()  # the workers end with the job
            else:  # connected by the caller, who stays connected: end the workers here
                for actor in actors:
                    ray.kill(actor, no_restart=True)
        except Exception as e:  # noqa: BLE001 - a cluster already gone (Ctrl+C reached a local one too)
            log.info("while disconnecting from Ray: %s", e)
        from .fileio import sweep_stale_temporaries

        for folder in folders:  # what a worker killed on this machine was writing
            sweep_stale_temporaries(folder)


def _connect(ray, options: ClusterOptions) -> None:
    """Connect to the cluster, or start a local instance."""
    kwargs = {"logging_level": logging.WARNING, "log_to_driver": options.verbose}
    if options.address not in (None, "auto"):
        _check_reachable(options.address)  # Ray itself would wait for an absent head for minutes, deaf to Ctrl+C
    try:
        if options.address is None:
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=options.address, **kwargs)
    except ConnectionError as e:  # `auto` with no cluster on this machine, or a head that went away
        raise ClusterError(f"cannot reach the Ray cluster at {options.address}: {_one_line(e)} (`ray start --head` "
                           "starts one; give its address to --ray)") from e


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """A TCP connection to the head's port, so that a wrong address is one line at once."""
    host, _, port = (address[len("ray://"):] if address.startswith("ray://") else address).rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except socket.gaierror:
        why = f"the host name {host} does not resolve"
    except ConnectionRefusedError:
        why = f"nothing listens on port {port} there"
    except TimeoutError:
        why = f"no answer in {timeout:.0f} s"
    except OSError as e:
        why = e.strerror or str(e)
    raise ClusterError(f"cannot reach the Ray cluster at {address}: {why}; is `ray start --head` running there, and "
                       "is the port open to this machine?")


def _plan(ray, options: ClusterOptions, videos: int) -> tuple[float, int]:
    """(GPUs per worker, workers): one worker per `cpus_per_task` CPUs, or per `gpus_per_task`
    GPUs where the cluster has GPUs; never more workers than videos."""
    resources = ray.cluster_resources()
    cpus, gpus_there = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    gpus = options.gpus_per_task if options.gpus_per_task is not None else (1.0 if gpus_there >= 1 else 0.0)
    if gpus > gpus_there:
        raise ClusterError(f"--gpus-per-task {gpus:g}: the cluster has {gpus_there:g} GPU(s); ask for fewer, or 0 "
                           "for the CPUs")
    if options.cpus_per_task > cpus:
        raise ClusterError(f"--cpus-per-task {options.cpus_per_task:g}: the cluster has {cpus:g} CPU(s)")
    capacity = math.floor(gpus_there / gpus + 1e-9) if gpus else math.floor(cpus / options.cpus_per_task + 1e-9)
    if gpus:
        capacity = min(capacity, math.floor(cpus / options.cpus_per_task + 1e-9))
    return gpus, max(1, min(options.workers or capacity, videos))


class _Dispatcher:
    """Hands each idle worker the next video, collects results, polls progress, notices lost
    workers, and on Ctrl+C cancels the running videos."""

    def __init__(self, ray, actors, shipped: list, jobs, options, report: ClusterReport, out, err) -> None:
        self.ray, self.options, self.report, self.out, self.err = ray, options, report, out, err
        self.shipped = shipped
        self.pending = deque(jobs)
        self.total = len(jobs)
        self.starting = {actor.load.remote(shipped): actor for actor in actors}
        self.idle: list = []
        self.info: dict = {}  # actor -> describe()
        self.busy: dict = {}  # actor -> _Busy
        self.running: dict = {}  # result ref -> actor
        self.polls: dict = {}  # progress ref -> actor
        self.start_errors: set[str] = set()
        self.jobs_done: list[AnalysisJob] = []  # in step with report.outcomes
        self.devices: set[str] = set()
        self.began: float | None = None
        self.finished_at: float | None = None
        self.bar = None

    # -- output
    def _echo(self, line: str, error: bool = False) -> None:
        if self.bar is not None:
            self.bar.clear()
        (self.err if error else self.out)(line)
        if self.bar is not None:
            self.bar.refresh()

    def _status(self) -> None:
        if self.bar is None:
            return
        seconds = time.perf_counter() - self.began if self.began else 0.0
        frames = self.report.frames + sum(b.frames for b in self.busy.values())
        fps = frames / seconds if seconds > 0 else 0.0
        self.bar.set_postfix_str(f"done {len(self.report.outcomes)}, failed {len(self.report.failed)}, running "
                                 f"{len(self.busy)}, {fps:.0f} frames/s", refresh=True)

    # -- the loop
    def run(self) -> None:
        if self.options.progress:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="video", desc="cluster", file=sys.stderr, leave=False)
        try:
            self._loop()
        except KeyboardInterrupt:
            self._cancel()
            raise
        finally:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
        self.report.seconds = (self.finished_at or time.perf_counter()) - (self.began or time.perf_counter())

    def _loop(self) -> None:
        ray = self.ray
        last_poll = 0.0
        while self.pending or self.running:
            while self.idle and self.pending:
                self._submit(self.idle.pop(), self.pending.popleft())
            if not self.running and not self.starting:  # every worker failed to start
                reason = "; ".join(sorted(self.start_errors)) or "no worker could start"
                while self.pending:
                    job = self.pending.popleft()
                    self._fail(job.video, f"{job.video}: not analysed: {reason}")
                break
            refs = [*self.running, *self.starting, *self.polls]
            ready, _ = ray.wait(refs, num_returns=1, timeout=POLL_S)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                if ref in self.starting:
                    self._started(ref, self.starting.pop(ref))
                elif ref in self.polls:
                    self._polled(ref, self.polls.pop(ref))
                elif ref in self.running:
                    self._finished(ref, self.running.pop(ref))
            now = time.perf_counter()
            if now - last_poll >= POLL_S:
                last_poll = now
                asked = set(self.polls.values())
                for actor in self.busy:
                    if actor not in asked:
                        self.polls[actor.progress.remote()] = actor
            self._status()
        self.finished_at = time.perf_counter()

    def _submit(self, actor, job: AnalysisJob) -> None:
        if self.began is None:
            self.began = time.perf_counter()
        ref = actor.analyze.remote(_absolute(job), self.shipped)
        self.running[ref] = actor
        self.busy[actor] = _Busy(job, ref)

    def _started(self, ref, actor) -> None:
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            message = f"a worker could not start: {_cause(e)}"
            if message not in self.start_errors:
                self.start_errors.add(message)
                self._echo(f"error: {message}", error=True)
            return
        self.info[actor] = info
        if info["device"] not in self.devices:  # each kind of worker once
            self.devices.add(info["device"])
            self._echo(f"workers: {info['device']} ({info['note']})", error=True)
        self.idle.append(actor)

    def _polled(self, ref, actor) -> None:
        busy = self.busy.get(actor)
        try:
            pid, frames = self.ray.get(ref)
        except self.ray.exceptions.RayActorError:
            if busy is not None:
                self._lost(actor, busy)
            return
        known = self.info.get(actor, {})
        if known.get("pid") != pid:  # restarted since it last answered
            if busy is not None and not busy.lost:
                self._lost(actor, busy)
            known["pid"] = pid
        if busy is not None:
            busy.lost = False
            busy.frames = frames

    def _lost(self, actor, busy: _Busy) -> None:
        busy.lost, busy.frames = True, 0
        busy.attempt += 1
        self.report.retried += 1
        known = self.info.get(actor, {})
        if busy.attempt <= self.options.retries + 1:
            self._echo(f"{busy.job.video}: its worker (pid {known.get('pid', '?')} on {known.get('host', '?')}) was "
                       f"lost; Ray restarts it and tries the video again (attempt {busy.attempt} of "
                       f"{self.options.retries + 1})", error=True)

    def _finished(self, ref, actor) -> None:
        busy = self.busy.pop(actor)
        job = busy.job
        try:
            task = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as e:
            self._fail(job.video, f"{job.video}: its worker was lost on every try ({self.options.retries + 1}); not "
                                  f"analysed ({_cause(e)})")
            if not isinstance(e, self.ray.exceptions.ActorDiedError):
                self.idle.append(actor)
            return
        except self.ray.exceptions.RayError as e:
            self._fail(job.video, f"{job.video}: the task failed: {_cause(e)}")
            self.idle.append(actor)
            return
        self.idle.append(actor)
        self.report.busy_seconds += task.seconds
        if task.outcome is None:
            message = task.error
            if message.endswith(": no such file") and job.video.exists():
                message += (f" on the worker's node ({self.info.get(actor, {}).get('host', '?')}): every node must "
                            "see the videos and the output folder at the same paths")
            self._fail(job.video, _shown(message, job))
            return
        outcome = task.outcome
        self.report.outcomes.append(outcome)
        self.jobs_done.append(job)
        if not outcome.cached:
            self.report.frames += outcome.frames
        for line in outcome.summary:
            self._echo(_shown(line, job))
        if self.bar is not None:
            self.bar.update(1)

    def _fail(self, video: Path, message: str) -> None:
        self.report.failed.append(message)
        self._echo(f"error: {message}", error=True)
        if self.bar is not None:
            self.bar.update(1)

    def _cancel(self) -> None:
        """Ctrl+C: every busy worker stops at its next frame (its video writes nothing); a video
        whose exports were being written finishes them or leaves none (they are atomic)."""
        ray = self.ray
        stopped = 0
        try:
            for actor in list(self.busy):
                actor.cancel.remote()
            if self.running:
                done, _ = ray.wait(list(self.running), num_returns=len(self.running), timeout=CANCEL_WAIT_S)
                for ref in done:
                    actor = self.running.pop(ref)
                    busy = self.busy.pop(actor)
                    try:
                        task = ray.get(ref)
                    except ray.exceptions.RayError:
                        stopped += 1
                        continue
                    if task.outcome is not None:  # it finished before the cancel reached it
                        self.report.outcomes.append(task.outcome)
                        self.jobs_done.append(busy.job)
                        for line in task.outcome.summary:
                            self._echo(_shown(line, busy.job))
                    else:
                        stopped += 1
        except Exception as e:  # noqa: BLE001 - the cluster is gone too (Ctrl+C reached a local one)
            log.info("while cancelling: %s", e)
        stopped += len(self.running)
        complete = "; ".join(_shown(str(p), job) for job, o in zip(self.jobs_done, self.report.outcomes)
                             for p in o.written) or "none"
        self._echo(f"interrupted: the cluster's tasks were cancelled ({stopped} running video(s) stopped, "
                   f"{len(self.pending)} not started; nothing partial was left); complete outputs: {complete}",
                   error=True)


def _absolute(job: AnalysisJob) -> AnalysisJob:
    """The job with absolute paths: a worker's working folder is not the driver's."""
    def absolute(p: Path | None) -> Path | None:
        return None if p is None else Path(os.path.abspath(p))

    return dataclasses.replace(job, video=absolute(job.video), out=absolute(job.out), annotated=absolute(job.annotated))


def _shown(text: str, job: AnalysisJob) -> str:
    """A worker's line with the paths as the user wrote them (the worker was given absolute ones)."""
    text = text.replace(os.path.abspath(job.video), str(job.video))
    for target in {p.parent for p in (job.out, job.annotated) if p is not None}:
        absolute, shown = os.path.abspath(target), str(target)
        text = text.replace(absolute + os.sep, "" if shown == "." else shown + os.sep)
    return text


def _cause(error: BaseException) -> str:
    """The first line of a Ray error that says what happened (not its traceback)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException) and not isinstance(cause, type(error)):
        return f"{type(cause).__name__}: {_one_line(cause)}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    tail = [line for line in lines if not line.startswith(("Traceback", "File ", "^"))]
    return (tail[-1] if tail else type(error).__name__)[:400]
