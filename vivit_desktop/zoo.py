"""The model catalogue ("zoo"): the published ViViT weights the program can fetch, convert and
install by name. No Qt; the CLI (`vivit-desktop zoo`) and the window (Models ▸ Get models…) are
two adapters over `install`.

- Scenic (JAX/Flax) checkpoints come from Google's bucket over plain HTTPS (urllib): streamed to
  `NAME.checkpoint.part` in `paths.downloads_dir()`, resumed with an HTTP Range request after an
  interruption (a server that ignores Range and answers 200 restarts it from the first byte),
  with connect and read timeouts, a progress callback and a cancel flag. The SHA-256 is computed
  of the complete file. `VIVIT_DESKTOP_ZOO_MIRROR` (a URL) serves the same paths from elsewhere.
- Hugging Face entries go through `huggingface_hub`, so files that transformers (or an earlier
  get) already downloaded come from the user's HF cache; `HF_ENDPOINT`, `HF_HUB_CACHE`/`HF_HOME`
  and `HF_HUB_OFFLINE` are read when the get runs.

`install` converts the download (`import_scenic` / `import_hf_vivit`) and saves it into the user
models folder with `save_model` (atomic): a cancelled or failed get installs nothing. What may
stay behind is the `.part` of an interrupted download, kept so that the next get resumes it; a
complete scenic download is deleted once it is installed, or when it turns out not to be a
checkpoint.
"""

from __future__ import annotations

import datetime as _dt
import errno
import http.client
import hashlib
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .cancel import CancelToken, Cancelled
from .errors import VivitError
from .fileio import sha256_digest, sha256_file
from .model.config import FACTORISED_ENCODER, SPATIO_TEMPORAL, VARIANT_TITLES

log = logging.getLogger(__name__)

Progress = Callable[[int, Optional[int]], None]  # (bytes done, total bytes or None)

SCENIC_BUCKET = "https://storage.googleapis.com/scenic-bucket"
SCENIC_README = "https://github.com/google-research/scenic/tree/main/scenic/projects/vivit"
HF_ENDPOINT = "https://huggingface.co"
MIRROR_ENV = "VIVIT_DESKTOP_ZOO_MIRROR"
SCENIC_LICENCE = ("not stated for the checkpoints (scenic's model zoo names none; scenic's code is Apache-2.0)")
SCENIC_LICENCE_SHORT = "unstated"

# How scenic evaluated its ViViT checkpoints (scenic/projects/vivit/configs/*: min_resize 256,
# crop_size 224, zero_centering, i.e. x / 127.5 - 1, 32 frames).
SCENIC_EVAL = {"resize_shorter": 256, "value_scale": 1 / 127.5, "value_offset": -1.0,
               "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}


class DownloadError(OSError, VivitError):
    """A get that failed for a reason the user can act on; the message is one line."""


@dataclass(frozen=True)
class ZooEntry:
    name: str  # what a user types, and the installed checkpoint's file stem
    title: str  # e.g. "ViViT-B/16x2 FE"
    family: str  # what the Models menu groups by: "Kinetics-400"
    variant: str  # a VARIANTS constant
    dataset: str
    top1: float | None  # as published by the source; None where it publishes none
    top1_note: str  # what the figure measures
    size_mb: int  # approximate download size (estimated from the parameter count; see `size_text`)
    licence: str  # as the source states it
    url: str  # the file downloaded (scenic), or the repository page (Hugging Face)
    source: str  # "scenic" or "huggingface"
    labels_name: str = ""  # a shipped label set (model.labels.label_set); "": the checkpoint names its classes
    frame_stride: int = 2
    num_frames: int = 32
    hf_repo: str = ""
    config: str = ""  # the scenic config the model was trained with
    description: str = ""
    preprocessing: dict = field(default_factory=lambda: dict(SCENIC_EVAL))

    @property
    def model_title(self) -> str:
        """"Model 2: factorised encoder"."""
        return VARIANT_TITLES[self.variant]

    @property
    def top1_text(self) -> str:
        return f"{self.top1:.1f} ({self.top1_note})" if self.top1 is not None else "—"

    @property
    def size_text(self) -> str:
        mb = self.size_mb
        return f"~{mb / 1000:.1f} GB" if mb >= 1000 else f"~{mb} MB"

    @property
    def licence_short(self) -> str:
        return SCENIC_LICENCE_SHORT if self.licence == SCENIC_LICENCE else self.licence.split(" (")[0]

    def label_set(self):
        """The class names in output order and the heads (a `LabelSet`), or None where the
        checkpoint carries its own."""
        if not self.labels_name:
            return None
        from .model.labels import label_set

        return label_set(self.labels_name)

    @property
    def heads(self) -> tuple[tuple[str, int, int], ...]:
        """(name, start, size) of each head of a multi-head model (Epic-Kitchens: verb, noun)."""
        labels = self.label_set()
        return labels.heads if labels is not None else ()

    def download_url(self) -> str:
        """`url`, or the same path under VIVIT_DESKTOP_ZOO_MIRROR when that is set."""
        mirror = os.environ.get(MIRROR_ENV, "").rstrip("/")
        if mirror and self.url.startswith(SCENIC_BUCKET + "/"):
            return mirror + self.url[len(SCENIC_BUCKET):]
        return self.url


def _scenic(name, title, family, variant, dataset, top1, note, size_mb, path, labels, config, **extra) -> ZooEntry:
    return ZooEntry(name=name, title=title, family=family, variant=variant, dataset=dataset, top1=top1,
                    top1_note=note, size_mb=size_mb, licence=SCENIC_LICENCE,
                    url=f"{SCENIC_BUCKET}/vivit/{path}/checkpoint", source="scenic", labels_name=labels,
                    config=f"scenic/projects/vivit/configs/{config}", **extra)


# Figures and URLs from scenic/projects/vivit/README.md ("Model Zoo": multi-view top-1, every model
# takes 32 frames). Sizes are estimates: float32 weights plus the momentum the 2021 (flax.optim)
# training checkpoints carry, from our parameter counts; the real size shows when a get starts.
ENTRIES: tuple[ZooEntry, ...] = (
    _scenic("vivit-b-16x2-k400-st", "ViViT-B/16x2", "Kinetics-400", SPATIO_TEMPORAL, "Kinetics-400", 79.9,
            "4x3 views", 712, "kinetics_400/vivit_base_16x2_unfactorized", "kinetics400",
            "kinetics400/vivit_base_k400.py",
            description="ViViT-B/16x2, unfactorised (Model 1: spatio-temporal attention), trained on Kinetics-400."),
    _scenic("vivit-b-16x2-k400-fe", "ViViT-B/16x2 FE", "Kinetics-400", FACTORISED_ENCODER, "Kinetics-400", 78.4,
            "4x3 views", 921, "kinetics_400/vivit_base_16x2_fe", "kinetics400",
            "kinetics400/vivit_base_factorised_encoder.py",
            description="ViViT-B/16x2 factorised encoder (Model 2), trained on Kinetics-400."),
    _scenic("vivit-l-16x2-k400-fe", "ViViT-L/16x2 FE", "Kinetics-400", FACTORISED_ENCODER, "Kinetics-400", 80.3,
            "4x3 views", 2839, "kinetics_400/vivit_large_16x2_fe", "kinetics400",
            "kinetics400/vivit_large_factorised_encoder.py",
            description="ViViT-L/16x2 factorised encoder (Model 2), trained on Kinetics-400."),
    _scenic("vivit-l-16x2-k600-fe", "ViViT-L/16x2 FE", "Kinetics-600", FACTORISED_ENCODER, "Kinetics-600", 81.6,
            "4x3 views", 2841, "kinetics_600/vivit_large_16x2_fe", "kinetics600",
            "kinetics600/vivit_large_factorised_encoder.py",
            description="ViViT-L/16x2 factorised encoder (Model 2), trained on Kinetics-600."),
    # One output of 300 noun then 97 verb logits (the config's class_splits [300, 97], split_names
    # ['noun', 'verb']): two heads, from the "epic-kitchens-100" label set. The config samples 32
    # consecutive frames (stride 1).
    _scenic("vivit-l-16x2-ek100-fe", "ViViT-L/16x2 FE", "Epic-Kitchens-100", FACTORISED_ENCODER,
            "Epic-Kitchens-100", 43.6, "action, 4x1 views", 2839, "epic_kitchens/vivit_large_16x2_fe",
            "epic-kitchens-100", "epic_kitchens/vivit_large_factorised_encoder.py", frame_stride=1,
            description="ViViT-L/16x2 factorised encoder (Model 2), trained on Epic-Kitchens-100: a verb head and "
                        "a noun head."),
    ZooEntry(name="vivit-b-16x2-k400-st-hf", title="ViViT-B/16x2 (Hugging Face)", family="Kinetics-400",
             variant=SPATIO_TEMPORAL, dataset="Kinetics-400", top1=None, top1_note="", size_mb=356,
             licence="MIT (the model card's licence)", url=f"{HF_ENDPOINT}/google/vivit-b-16x2-kinetics400",
             source="huggingface", hf_repo="google/vivit-b-16x2-kinetics400",
             description="ViViT-B/16x2 (Model 1) on Kinetics-400, as published on the Hugging Face Hub for "
                         "transformers' VivitForVideoClassification.",
             preprocessing={}),  # the repository's preprocessor_config.json says it
)


def catalogue() -> tuple[ZooEntry, ...]:
    return ENTRIES


def entry(name: str) -> ZooEntry:
    for e in catalogue():
        if e.name == name:
            return e
    names = ", ".join(e.name for e in catalogue())
    raise ValueError(f"no catalogue entry named {name!r}; the catalogue has: {names}")


def installed_path(e: ZooEntry, models_dir: Path | None = None) -> Path | None:
    """The installed checkpoint's weights, or None."""
    from .paths import user_models_dir

    weights = (models_dir or user_models_dir()) / f"{e.name}.safetensors"
    return weights if weights.exists() and weights.with_suffix(".json").exists() else None


def family_of_card(card) -> str | None:
    """The catalogue family a model card was installed under ("Kinetics-400"), or None."""
    provenance = getattr(card, "provenance", None) or {}
    family = provenance.get("family") if provenance.get("source") == "vivit-desktop zoo" else None
    return family if isinstance(family, str) and family else None


# -- downloading over HTTP(S) ---------------------------------------------------------------------

class _Interrupted(Exception):
    """The body stopped before its end; what was received stays in the .part file."""


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.netloc or url


def _network_message(url: str, reason: object, connect_timeout: float) -> str:
    host = _host(url)
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve {host.split(':')[0]}: no network, or no name service (offline?)"
    if isinstance(reason, ConnectionRefusedError):
        return f"{host} refused the connection (nothing is listening there)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"{host} did not answer within {connect_timeout:g} s (offline, or a firewall or proxy in the way?)"
    if isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN):
        return f"cannot reach {host}: the network is unreachable (offline?)"
    text = getattr(reason, "strerror", None) or str(reason)
    return f"cannot download {url}: {text}"


def _http_message(url: str, error: urllib.error.HTTPError) -> str:
    if error.code == 404:
        return f"{url}: not found (HTTP 404); the file has moved, or the catalogue is out of date"
    if error.code in (401, 403):
        return f"{url}: access denied (HTTP {error.code})"
    return f"{url}: the server answered HTTP {error.code} {error.reason}"


def _set_read_timeout(response, seconds: float) -> None:
    """urlopen's timeout covers the connection; give reads their own."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _content_range(header: str | None) -> tuple[int, int | None] | None:
    """'bytes START-END/TOTAL' -> (START, TOTAL or None)."""
    if not header or not header.startswith("bytes "):
        return None
    span, _, total = header[6:].partition("/")
    start = span.partition("-")[0]
    try:
        return int(start), (int(total) if total.strip() not in ("", "*") else None)
    except ValueError:
        return None


def _download_once(url: str, part: Path, progress: Progress | None, cancel: CancelToken | None,
                   connect_timeout: float, read_timeout: float, chunk_size: int):
    """One request; appends to `part` (206) or rewrites it (200). Returns the digest of the whole file."""
    from . import __version__

    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"vivit-desktop/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=connect_timeout)
    except urllib.error.HTTPError as e:
        e.close()  # it holds the connection
        if e.code == 416 and have:  # nothing left after `have`: the part is whole, or not of this file
            span = _content_range(e.headers.get("Content-Range", "").replace("bytes */", "bytes 0-0/"))
            if span is not None and span[1] == have:
                return sha256_digest(part)
            part.unlink()
            raise _Interrupted("the partial download did not fit the file on the server; starting over") from e
        raise DownloadError(_http_message(url, e)) from e
    except urllib.error.URLError as e:
        raise DownloadError(_network_message(url, e.reason, connect_timeout)) from e
    except (TimeoutError, socket.timeout) as e:
        raise DownloadError(_network_message(url, e, connect_timeout)) from e
    except OSError as e:  # a reset while connecting, and the like
        raise DownloadError(_network_message(url, e, connect_timeout)) from e
    with response:
        _set_read_timeout(response, read_timeout)
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        span = _content_range(response.headers.get("Content-Range"))
        if response.status == 206 and not (have and span is not None and span[0] == have):
            part.unlink(missing_ok=True)
            raise _Interrupted("the server sent another part of the file than the one asked for; starting over")
        if response.status == 206:
            digest = sha256_digest(part)
            mode, done = "ab", have
            total = span[1] if span[1] is not None else (have + length if length is not None else None)
            log.info("resuming %s at byte %d", url, have)
        else:  # 200: the whole body (nothing to resume, or the server ignored Range)
            if have:
                log.info("%s: the server sent the whole file again; restarting", url)
            digest, mode, done, total = hashlib.sha256(), "wb", 0, length
        if progress is not None:
            progress(done, total)
        with open(part, mode) as f:
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled("download cancelled")
                try:  # read1: what has arrived (up to chunk_size), so cancel and progress stay prompt
                    block = response.read1(chunk_size)
                except (TimeoutError, socket.timeout) as e:
                    raise _Interrupted(f"no data for {read_timeout:g} s") from e
                except (OSError, http.client.HTTPException) as e:  # a reset, IncompleteRead, ...
                    raise _Interrupted(f"the connection broke ({type(e).__name__})") from e
                if not block:
                    break
                f.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
    if total is not None and done < total:
        raise _Interrupted(f"the connection closed after {done} of {total} bytes")
    return digest


def download(url: str, dest: str | Path, *, progress: Progress | None = None, cancel: CancelToken | None = None,
             connect_timeout: float = 15.0, read_timeout: float = 60.0, retries: int = 3, retry_wait: float = 2.0,
             chunk_size: int = 1 << 18) -> str:
    """Download `url` to `dest` and return the file's SHA-256 (hex).

    The body streams into `dest` + ".part", which becomes `dest` only when complete. An
    interrupted transfer resumes from the end of the .part with an HTTP Range request, up to
    `retries` times here (waiting `retry_wait`, doubling), and again on the next call: a failed
    call leaves the .part for that. `progress(done, total)` follows the bytes; cancelling `cancel`
    raises `Cancelled` at the next block. Failures raise `DownloadError` with one line."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        try:
            digest = _download_once(url, part, progress, cancel, connect_timeout, read_timeout, chunk_size)
            break
        except _Interrupted as e:
            kept = part.stat().st_size if part.exists() else 0
            if attempt >= retries:
                raise DownloadError(f"the download of {url} was interrupted: {e}; {kept / 1e6:.1f} MB are kept in "
                                    f"{part}: run the same get again to resume") from e
            attempt += 1
            wait = retry_wait * 2 ** (attempt - 1)
            log.warning("%s: %s; resuming in %g s (try %d of %d)", url, e, wait, attempt, retries)
            if cancel is not None:
                if cancel.wait(wait):
                    raise Cancelled("download cancelled") from None
            elif wait:
                time.sleep(wait)
    os.replace(part, dest)
    return digest.hexdigest()


# -- Hugging Face ---------------------------------------------------------------------------------

def _hf_settings() -> dict:
    """huggingface_hub reads its environment once, at import: read it again now."""
    settings: dict = {"endpoint": os.environ.get("HF_ENDPOINT") or None}
    cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if not cache and os.environ.get("HF_HOME"):
        cache = str(Path(os.environ["HF_HOME"]) / "hub")
    settings["cache_dir"] = cache or None
    offline = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    settings["local_files_only"] = offline.strip().lower() in ("1", "true", "yes", "on")
    return settings


def _hf_bar_class(progress: Progress | None, cancel: CancelToken | None):
    """A silent tqdm for huggingface_hub that reports to `progress` and honours `cancel`."""
    from tqdm import tqdm

    class Bar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)
            self._total = kwargs.get("total")

        def update(self, n=1):
            if cancel is not None:
                cancel.raise_if_cancelled("download cancelled")
            self._done += int(n or 0)
            if progress is not None:
                progress(self._done, self._total)

    return Bar


def _probe(url: str, timeout: float = 10.0) -> None:
    """Fail fast, with one line, when the host cannot be reached at all (huggingface_hub would
    retry for half a minute). Skipped behind a proxy, which resolves names itself."""
    if urllib.request.getproxies():
        return
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as e:
        raise DownloadError(_network_message(url, e, timeout)) from e


def fetch_hf(repo: str, *, progress: Progress | None = None, cancel: CancelToken | None = None,
             revision: str | None = None) -> tuple[Path, dict]:
    """A Hugging Face ViViT repository's config and weights, from the HF cache when all are
    there (no network then), else through huggingface_hub (which fetches only what is missing)
    -> (the snapshot folder, provenance: url, revision, file, sha256)."""
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError,
                                            RepositoryNotFoundError, RevisionNotFoundError)
    except ImportError as e:  # the installers leave huggingface_hub out (build.spec)
        raise DownloadError("the Hugging Face entries need the huggingface_hub package, which this installation "
                            "lacks (`pip install huggingface_hub`); the scenic entries need nothing more "
                            "(vivit-b-16x2-k400-st is the same Model 1)") from e

    settings = _hf_settings()
    endpoint = (settings["endpoint"] or HF_ENDPOINT).rstrip("/")
    bar = _hf_bar_class(progress, cancel)

    def files(local: bool) -> tuple[Path, Path]:
        def get(filename: str) -> Path:
            if cancel is not None:
                cancel.raise_if_cancelled("download cancelled")
            return Path(hf_hub_download(repo, filename, revision=revision, tqdm_class=bar,
                                        endpoint=settings["endpoint"], cache_dir=settings["cache_dir"],
                                        local_files_only=local))

        config = get("config.json")
        try:
            get("preprocessor_config.json")
        except EntryNotFoundError:
            pass  # optional: VivitImageProcessor's defaults apply
        try:
            weights = get("model.safetensors")
        except EntryNotFoundError:
            weights = get("pytorch_model.bin")
        return config, weights

    try:
        try:
            config, weights = files(local=True)
        except LocalEntryNotFoundError:
            if settings["local_files_only"]:
                raise
            _probe(endpoint)
            config, weights = files(local=False)
    except LocalEntryNotFoundError as e:
        where = "offline mode is on (HF_HUB_OFFLINE)" if settings["local_files_only"] else \
            f"{_host(endpoint)} cannot be reached (offline?)"
        raise DownloadError(f"{repo}: {where}, and its files are not in the Hugging Face cache") from e
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise DownloadError(f"{repo}: no such repository or revision on {endpoint}") from e
    except EntryNotFoundError as e:
        raise DownloadError(f"{repo} has no model.safetensors or pytorch_model.bin: not a ViViT checkpoint") from e
    except HfHubHTTPError as e:
        raise DownloadError(f"{repo}: {str(e).splitlines()[0]}") from e
    except DownloadError:
        raise
    except OSError as e:
        raise DownloadError(f"{repo}: {_network_message(endpoint, e, 10)}") from e
    folder = config.parent
    if weights.parent != folder:
        raise DownloadError(f"{repo}: config and weights came from different revisions; run the get again")
    from .fileio import sha256_file

    commit = folder.name
    provenance = {"url": f"{endpoint}/{repo}/resolve/{commit}/{weights.name}", "repository": repo,
                  "revision": commit, "file": weights.name, "sha256": sha256_file(weights)}
    return folder, provenance


# -- getting a model --------------------------------------------------------------------------------

def install(name: str | ZooEntry, *, force: bool = False, progress: Progress | None = None,
            cancel: CancelToken | None = None, stage: Callable[[str], None] | None = None,
            models_dir: Path | None = None, **download_options) -> Path:
    """Download, convert and install a catalogue entry; returns the installed weights path.

    Refuses (FileExistsError) when it is installed already, unless `force`. `stage(text)` says
    what is happening ("downloading", "converting", "saving"). Raises `Cancelled` once `cancel` is
    cancelled, `DownloadError` for network failures, `CheckpointError` for a file that is no
    checkpoint; in every case nothing is installed."""
    from .fileio import FileExistsRefusal
    from .model import save_model
    from .model.checkpoint import CheckpointError
    from .paths import user_models_dir

    e = entry(name) if isinstance(name, str) else name
    folder = models_dir or user_models_dir()
    target = folder / e.name
    if not force and installed_path(e, folder) is not None:
        raise FileExistsRefusal(target.with_suffix(".safetensors"))

    def say(text: str) -> None:
        log.info("%s: %s", e.name, text)
        if stage is not None:
            stage(text)

    def check_cancel() -> None:
        if cancel is not None:
            cancel.raise_if_cancelled("cancelled; nothing was installed")

    provenance = {"source": "vivit-desktop zoo", "catalogue": e.name, "family": e.family, "licence": e.licence,
                  "dataset": e.dataset, "retrieved": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    evaluation = {"published_top1": e.top1, "published_top1_note": e.top1_note,
                  "published_by": SCENIC_README if e.source == "scenic" else e.url} if e.top1 is not None else {}
    download_file = None
    if e.source == "huggingface":
        from .model import import_hf_vivit

        say(f"downloading {e.hf_repo} (or finding it in the Hugging Face cache)")
        hf_folder, fetched = fetch_hf(e.hf_repo, progress=progress, cancel=cancel)
        provenance.update(fetched)
        check_cancel()
        say("converting")
        model = import_hf_vivit(hf_folder)
    else:
        from .model.scenic import import_scenic, looks_like_flax
        from .paths import downloads_dir

        url = e.download_url()
        download_file = downloads_dir() / f"{e.name}.checkpoint"
        if download_file.exists():
            say(f"using the download in {download_file}")
            sha256 = sha256_file(download_file)
        else:
            say(f"downloading {url}")
            sha256 = download(url, download_file, progress=progress, cancel=cancel, **download_options)
        if not looks_like_flax(download_file):
            what = _what_it_was(download_file)
            download_file.unlink(missing_ok=True)
            raise DownloadError(f"{url} did not send a Flax checkpoint ({what}); the download was removed")
        provenance.update({"url": url, "sha256": sha256})
        if url != e.url:
            provenance["canonical_url"] = e.url
        check_cancel()
        say("converting")
        fields = {**e.preprocessing, "frame_stride": e.frame_stride, "description": e.description}
        try:
            labels = e.label_set()
            model = import_scenic(download_file, variant=e.variant, labels=labels.labels if labels else None,
                                  heads=labels.heads if labels else None, name=e.name, card_fields=fields)
        except CheckpointError:
            download_file.unlink(missing_ok=True)  # a complete file that is no usable checkpoint: do not reuse it
            raise
    if model.config.variant != e.variant:
        raise CheckpointError(e.url, f"expected a {e.variant} model, the file holds a {model.config.variant} one")
    card = model.card
    model.card = card.replace(name=e.name, description=card.description or e.description,
                              provenance={**card.provenance, **provenance},
                              evaluation={**card.evaluation, **evaluation})
    check_cancel()
    say("saving")
    folder.mkdir(parents=True, exist_ok=True)
    weights, _ = save_model(model, target, overwrite=force)
    if download_file is not None:
        download_file.unlink(missing_ok=True)
    log.info("installed %s", weights)
    return weights


def _what_it_was(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        head = b""
    if not head:
        return "an empty body"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "a web page: a login portal or an error page?"
    if text.startswith(b"<?xml") or text.startswith(b"<error"):
        return "an XML error document"
    return f"{path.stat().st_size} bytes starting {head[:8].hex(' ')}"
