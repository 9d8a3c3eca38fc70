"""The model catalogue (vivit_desktop.zoo and `vivit-desktop zoo`), never on the internet: a
127.0.0.1 HTTP server serves scenic checkpoints the tests write (a good one, a connection dropped
mid-body then resumed with Range, a server that ignores Range, 404, garbage, a stall, a slow body
to cancel) and plays a Hugging Face endpoint (HF_ENDPOINT) for the Hugging Face entry."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass, field

import msgpack
import pytest
import torch

from vivit_desktop import zoo
from vivit_desktop.cancel import CancelToken
from vivit_desktop.cli import main
from vivit_desktop.model import load_model
from vivit_desktop.model.checkpoint import CheckpointError
from vivit_desktop.model.config import FACTORISED_ENCODER, SPATIO_TEMPORAL
from vivit_desktop.model.labels import label_list

from scenic_fixtures import write_scenic_checkpoint

FE = "vivit-b-16x2-k400-fe"
FE_PATH = "/mirror/vivit/kinetics_400/vivit_base_16x2_fe/checkpoint"
HF = "vivit-b-16x2-k400-st-hf"
HF_REPO = "google/vivit-b-16x2-kinetics400"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
TINY = {"depth": 1, "temporal_depth": 1, "hidden_size": 32, "num_heads": 2, "mlp_dim": 64}


# -- a local HTTP server ------------------------------------------------------------------------

@dataclass
class Route:
    data: bytes
    ranges: bool = True  # honour Range requests (206); False: answer 200 with the whole body
    drop_after: list = field(default_factory=list)  # bytes sent before closing, one entry per request
    delay: float = 0.0  # seconds between 4 KiB blocks
    stall: float = 0.0  # send the headers, then nothing for this long
    headers: dict = field(default_factory=dict)


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.not_found_headers: dict[str, str] = {}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner._answer(self, head=False)

            def do_HEAD(self):
                owner._answer(self, head=True)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def serve(self, path: str, data: bytes, **options) -> Route:
        self.routes[path] = Route(data, **options)
        return self.routes[path]

    def ranges_asked(self, path: str) -> list[str | None]:
        return [r for m, p, r in self.requests if p == path and m == "GET"]

    def _answer(self, h, head: bool) -> None:
        self.requests.append((h.command, h.path, h.headers.get("Range")))
        route = self.routes.get(h.path)
        if route is None:
            h.send_response(404)
            for k, v in self.not_found_headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data, start, asked = route.data, 0, h.headers.get("Range")
        if asked and route.ranges and not head:
            start = int(asked.split("=")[1].split("-")[0])
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        h.send_header("Content-Length", str(len(data) - start))
        for k, v in route.headers.items():
            h.send_header(k, v)
        h.end_headers()
        if head:
            return
        body = data[start:]
        if route.drop_after:
            body = body[:route.drop_after.pop(0)]  # then the connection closes: a drop
        if route.stall:
            time.sleep(route.stall)
            return
        try:
            for i in range(0, len(body), 4096):
                h.wfile.write(body[i:i + 4096])
                if route.delay:
                    h.wfile.flush()
                    time.sleep(route.delay)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny scenic Model 2 with Kinetics-400's 400 classes: (its bytes, the native reference model)."""
    path = tmp_path_factory.mktemp("scenic") / "checkpoint"
    torch.manual_seed(0)
    reference = write_scenic_checkpoint(path, "fe", layout="optimizer", num_classes=400, **TINY)
    return path.read_bytes(), reference


@pytest.fixture
def env(monkeypatch, tmp_path, server):
    """User models in a folder of the test's own; the scenic bucket served by `server`."""
    models = tmp_path / "models"
    monkeypatch.setenv("VIVIT_DESKTOP_MODELS", str(models))
    monkeypatch.setenv(zoo.MIRROR_ENV, server.url + "/mirror")
    return models


def downloads():
    from vivit_desktop.paths import downloads_dir

    return sorted(p.name for p in downloads_dir().glob("*")) if downloads_dir().exists() else []


def assert_same_logits(installed, reference):
    x = torch.randn(2, reference.config.num_frames, 3, reference.config.image_size, reference.config.image_size)
    with torch.no_grad():
        torch.testing.assert_close(installed(x), reference(x), rtol=1e-5, atol=1e-5)


# -- the catalogue -------------------------------------------------------------------------------

def test_the_catalogue_lists_the_published_models():
    entries = {e.name: e for e in zoo.catalogue()}
    assert len(entries) == len(zoo.catalogue()) == 6
    bucket = "https://storage.googleapis.com/scenic-bucket/vivit/"
    scenic = {(e.url, e.top1, e.dataset, e.variant) for e in entries.values() if e.source == "scenic"}
    assert scenic == {
        (bucket + "kinetics_400/vivit_base_16x2_unfactorized/checkpoint", 79.9, "Kinetics-400", SPATIO_TEMPORAL),
        (bucket + "kinetics_400/vivit_base_16x2_fe/checkpoint", 78.4, "Kinetics-400", FACTORISED_ENCODER),
        (bucket + "kinetics_400/vivit_large_16x2_fe/checkpoint", 80.3, "Kinetics-400", FACTORISED_ENCODER),
        (bucket + "kinetics_600/vivit_large_16x2_fe/checkpoint", 81.6, "Kinetics-600", FACTORISED_ENCODER),
        (bucket + "epic_kitchens/vivit_large_16x2_fe/checkpoint", 43.6, "Epic-Kitchens-100", FACTORISED_ENCODER),
    }
    hf = entries[HF]
    assert hf.source == "huggingface" and hf.hf_repo == HF_REPO and hf.variant == SPATIO_TEMPORAL
    assert {e.family for e in entries.values()} == {"Kinetics-400", "Kinetics-600", "Epic-Kitchens-100"}
    for e in entries.values():
        assert e.num_frames == 32 and e.size_mb > 0 and e.licence
        if e.source == "scenic":  # scenic's evaluation preprocessing: shorter side 256, values in [-1, 1]
            assert e.preprocessing["resize_shorter"] == 256 and e.preprocessing["value_offset"] == -1.0
            assert e.preprocessing["value_scale"] * 255 + e.preprocessing["value_offset"] == pytest.approx(1.0)
    assert len(entries["vivit-l-16x2-k600-fe"].label_set().labels) == 600
    ek = entries["vivit-l-16x2-ek100-fe"]
    labels = ek.label_set().labels
    assert len(labels) == 397 and ek.frame_stride == 1
    assert dict((n, (a, s)) for n, a, s in ek.heads) == {"verb": (300, 97), "noun": (0, 300)}
    assert labels[:300] == label_list("epic_kitchens_100_nouns")
    assert labels[300:] == label_list("epic_kitchens_100_verbs")
    with pytest.raises(ValueError, match="no catalogue entry named 'nope'"):
        zoo.entry("nope")


def test_a_mirror_serves_the_same_paths(monkeypatch):
    e = zoo.entry(FE)
    assert e.download_url() == e.url
    monkeypatch.setenv(zoo.MIRROR_ENV, "http://mirror.example/scenic/")
    assert e.download_url() == "http://mirror.example/scenic/vivit/kinetics_400/vivit_base_16x2_fe/checkpoint"


# -- getting a scenic model ------------------------------------------------------------------------

def test_get_downloads_converts_and_installs_with_provenance(server, env, checkpoint):
    data, reference = checkpoint
    server.serve(FE_PATH, data)
    seen = []
    stages = []
    weights = zoo.install(FE, progress=lambda done, total: seen.append((done, total)), stage=stages.append)
    assert weights == env / f"{FE}.safetensors" and zoo.installed_path(zoo.entry(FE)) == weights
    assert seen[-1] == (len(data), len(data)) and all(t == len(data) for _, t in seen)
    assert [s.split()[0] for s in stages] == ["downloading", "converting", "saving"]
    model = load_model(weights)
    card = model.card
    assert card.name == FE and card.variant == FACTORISED_ENCODER and card.labels == label_list("kinetics400")
    p = card.provenance
    assert p["url"] == server.url + FE_PATH and p["canonical_url"] == zoo.entry(FE).url
    assert p["sha256"] == hashlib.sha256(data).hexdigest()
    assert p["catalogue"] == FE and p["family"] == "Kinetics-400" and p["licence"] == zoo.entry(FE).licence
    assert card.evaluation["published_top1"] == 78.4
    assert (card.resize_shorter, card.value_scale, card.value_offset, card.mean, card.std, card.frame_stride) == \
        (256, 1 / 127.5, -1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 2)
    assert zoo.family_of_card(card) == "Kinetics-400"
    assert_same_logits(model, reference)
    assert downloads() == []  # the download is removed once installed
    with pytest.raises(FileExistsError, match="--force"):
        zoo.install(FE)
    assert zoo.install(FE, force=True) == weights


def test_a_dropped_connection_resumes_with_range(server, env, checkpoint):
    data, reference = checkpoint
    cut = len(data) // 3
    server.serve(FE_PATH, data, drop_after=[cut])
    weights = zoo.install(FE, retry_wait=0)
    assert server.ranges_asked(FE_PATH) == [None, f"bytes={cut}-"]
    assert load_model(weights).card.provenance["sha256"] == hashlib.sha256(data).hexdigest()
    assert_same_logits(load_model(weights), reference)


def test_an_interrupted_get_keeps_the_part_and_the_next_get_resumes(server, env, checkpoint):
    data, _ = checkpoint
    cut = len(data) // 2
    server.serve(FE_PATH, data, drop_after=[cut])
    with pytest.raises(zoo.DownloadError, match=r"interrupted: the connection closed after .*run the same get again "
                                                r"to resume"):
        zoo.install(FE, retries=0)
    assert not env.exists() or not list(env.iterdir())  # nothing installed
    assert downloads() == [f"{FE}.checkpoint.part"]
    weights = zoo.install(FE, retries=0)  # a new get, as after a restart
    assert server.ranges_asked(FE_PATH) == [None, f"bytes={cut}-"]
    assert load_model(weights).card.provenance["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_server_that_ignores_range_restarts_from_the_first_byte(server, env, checkpoint, tmp_path):
    data, _ = checkpoint
    server.serve(FE_PATH, data, ranges=False)
    part = tmp_path / "dl" / "file.part"
    part.parent.mkdir()
    part.write_bytes(b"\xff" * 1000)  # what an earlier, interrupted download left
    sha = zoo.download(server.url + FE_PATH, tmp_path / "dl" / "file")
    assert server.ranges_asked(FE_PATH) == ["bytes=1000-"]
    assert sha == hashlib.sha256(data).hexdigest() and (tmp_path / "dl" / "file").read_bytes() == data
    assert not part.exists()


def test_a_part_that_is_already_whole_completes_without_a_body(server, tmp_path):
    data = bytes(range(256)) * 40
    server.serve("/f", data)
    (tmp_path / "f.part").write_bytes(data)
    assert zoo.download(server.url + "/f", tmp_path / "f") == hashlib.sha256(data).hexdigest()
    assert server.ranges_asked("/f") == [f"bytes={len(data)}-"]  # answered 416: nothing left


def test_404_is_one_clear_line_and_installs_nothing(server, env):
    with pytest.raises(zoo.DownloadError) as e:
        zoo.install(FE)
    assert "HTTP 404" in str(e.value) and FE_PATH in str(e.value) and "\n" not in str(e.value)
    assert not env.exists() and downloads() == []


def test_a_web_page_instead_of_a_checkpoint_is_refused_and_removed(server, env):
    server.serve(FE_PATH, b"<!DOCTYPE html><html><body>Sign in to the Wi-Fi</body></html>")
    with pytest.raises(zoo.DownloadError, match=r"did not send a Flax checkpoint \(a web page"):
        zoo.install(FE)
    assert not env.exists() and downloads() == []


def test_a_msgpack_that_is_no_vivit_is_refused_and_removed(server, env):
    server.serve(FE_PATH, msgpack.packb({"hello": [1, 2, 3]}))
    with pytest.raises(CheckpointError, match="no ViViT parameters"):
        zoo.install(FE)
    assert not env.exists() and downloads() == []


def test_cancel_mid_download_installs_nothing_and_keeps_the_part(server, env, checkpoint):
    data, _ = checkpoint
    server.serve(FE_PATH, data, delay=0.002)
    cancel = CancelToken()

    def progress(done, total):
        if done > 20000:
            cancel.cancel()

    with pytest.raises(zoo.Cancelled):
        zoo.install(FE, progress=progress, cancel=cancel, chunk_size=4096)
    assert not env.exists()
    assert downloads() == [f"{FE}.checkpoint.part"]  # kept for the next get to resume


def test_a_stalled_body_times_out(server, tmp_path):
    server.serve("/stall", b"x" * 100000, stall=3.0)
    started = time.perf_counter()
    with pytest.raises(zoo.DownloadError, match=r"no data for 0.3 s.*resume"):
        zoo.download(server.url + "/stall", tmp_path / "f", read_timeout=0.3, retries=0)
    assert time.perf_counter() - started < 2.5


def test_refused_and_unresolvable_hosts_say_so(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(zoo.DownloadError, match=f"127.0.0.1:{port} refused the connection"):
        zoo.download(f"http://127.0.0.1:{port}/checkpoint", tmp_path / "f")

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(zoo.DownloadError, match=r"cannot resolve storage.googleapis.com: .*offline"):
        zoo.download(zoo.entry(FE).url, tmp_path / "f")
    assert not list(tmp_path.iterdir())


# -- the Hugging Face entry --------------------------------------------------------------------------

def hf_files(num_classes: int = 3) -> dict[str, bytes]:
    """A tiny VivitForVideoClassification repository (random weights under transformers' names)."""
    from safetensors.torch import save

    D, mlp, frames, size = 32, 64, 8, 32
    tokens = (frames // 2) * (size // 16) ** 2
    state = {"vivit.embeddings.cls_token": torch.randn(1, 1, D),
             "vivit.embeddings.position_embeddings": torch.randn(1, tokens + 1, D),
             "vivit.embeddings.patch_embeddings.projection.weight": torch.randn(D, 3, 2, 16, 16) * 0.02,
             "vivit.embeddings.patch_embeddings.projection.bias": torch.randn(D),
             "vivit.layernorm.weight": torch.ones(D), "vivit.layernorm.bias": torch.zeros(D),
             "classifier.weight": torch.randn(num_classes, D) * 0.02, "classifier.bias": torch.zeros(num_classes)}
    layer = "vivit.layers.0."
    for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
        state[f"{layer}attention.{name}.weight"] = torch.randn(D, D) * 0.1
        state[f"{layer}attention.{name}.bias"] = torch.randn(D) * 0.1
    for name in ("layernorm_before", "layernorm_after"):
        state[f"{layer}{name}.weight"], state[f"{layer}{name}.bias"] = torch.ones(D), torch.zeros(D)
    state[f"{layer}mlp.fc1.weight"], state[f"{layer}mlp.fc1.bias"] = torch.randn(mlp, D) * 0.1, torch.zeros(mlp)
    state[f"{layer}mlp.fc2.weight"], state[f"{layer}mlp.fc2.bias"] = torch.randn(D, mlp) * 0.1, torch.zeros(D)
    labels = {str(i): f"action {i}" for i in range(num_classes)}
    config = {"model_type": "vivit", "architectures": ["VivitForVideoClassification"], "hidden_size": D,
              "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": mlp, "image_size": size,
              "num_frames": frames, "tubelet_size": [2, 16, 16], "num_channels": 3, "hidden_act": "gelu_fast",
              "layer_norm_eps": 1e-6, "qkv_bias": True, "id2label": labels,
              "label2id": {v: int(k) for k, v in labels.items()}}
    return {"config.json": json.dumps(config).encode(), "model.safetensors": save(state)}


@pytest.fixture
def hub(server, monkeypatch, tmp_path):
    """`server` as the Hugging Face Hub (resolve URLs, the headers huggingface_hub reads), and an
    HF cache of the test's own."""
    files = hf_files()
    for name, data in files.items():
        server.serve(f"/{HF_REPO}/resolve/main/{name}", data,
                     headers={"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'})
    server.not_found_headers = {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("VIVIT_DESKTOP_MODELS", str(tmp_path / "models"))
    return files


def test_the_hugging_face_entry_downloads_through_huggingface_hub(server, hub, tmp_path):
    seen = []
    weights = zoo.install(HF, progress=lambda done, total: seen.append((done, total)))
    model = load_model(weights)
    card = model.card
    assert card.name == HF and card.variant == SPATIO_TEMPORAL and card.labels == ("action 0", "action 1", "action 2")
    p = card.provenance
    assert p["sha256"] == hashlib.sha256(hub["model.safetensors"]).hexdigest() and p["revision"] == COMMIT
    assert p["url"] == f"{server.url}/{HF_REPO}/resolve/{COMMIT}/model.safetensors"
    assert p["catalogue"] == HF and p["family"] == "Kinetics-400" and p["licence"].startswith("MIT")
    assert (len(hub["model.safetensors"]), len(hub["model.safetensors"])) in seen
    assert (tmp_path / "hf-cache" / "models--google--vivit-b-16x2-kinetics400" / "snapshots" / COMMIT).is_dir()
    gets = [p for m, p, _ in server.requests if m == "GET" and p.startswith(f"/{HF_REPO}/")]
    assert gets == [f"/{HF_REPO}/resolve/main/config.json", f"/{HF_REPO}/resolve/main/model.safetensors"]

    # a model already in the HF cache (as transformers leaves it) is installed without the network
    weights.unlink()
    weights.with_suffix(".json").unlink()
    asked = len(server.requests)
    assert zoo.install(HF) == weights
    assert not [p for _, p, _ in server.requests[asked:] if p.startswith(f"/{HF_REPO}/")]


def test_the_hugging_face_entry_offline(hub, monkeypatch, tmp_path, server):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(zoo.DownloadError, match="offline mode is on .* not in the Hugging Face cache"):
        zoo.install(HF)
    assert not (tmp_path / "models").exists() and not [p for _, p, _ in server.requests if HF_REPO in p]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    server.close()  # the Hub is gone: an unreachable endpoint fails fast, with one line
    with pytest.raises(zoo.DownloadError, match="refused the connection"):
        zoo.install(HF)


def test_cancel_stops_a_hugging_face_download(server, hub, tmp_path):
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(zoo.Cancelled):
        zoo.install(HF, cancel=cancel)
    assert not (tmp_path / "models").exists()


# -- the command line ----------------------------------------------------------------------------------

def test_cli_lists_gets_and_fails_in_one_line(server, env, checkpoint, capsys):
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    for e in zoo.catalogue():
        assert e.name in out and e.url in out
    assert "79.9" in out and "Epic-Kitchens-100" in out and "installed" not in out

    assert main(["zoo", "get", FE]) == 1  # nothing served yet: 404
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("vivit-desktop zoo: error: ") and "HTTP 404" in err

    server.serve(FE_PATH, checkpoint[0])
    assert main(["zoo", "get", FE]) == 0  # with its progress bar
    out, err = capsys.readouterr()
    assert f"installed {FE}" in out and str(env / f"{FE}.safetensors") in out
    assert f"{FE}: downloading {server.url}{FE_PATH}" in err and f"{FE}: converting" in err
    assert main(["zoo", "get", FE, "--no-progress"]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["zoo"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith(FE + " "))
    assert line.rstrip().endswith("installed")
    assert main(["zoo", "get", "nope"]) == 1
    assert "no catalogue entry named 'nope'" in capsys.readouterr().err


def test_zoo_is_a_command_not_a_video():
    from vivit_desktop.cli import wants_gui

    assert not wants_gui(["zoo"]) and not wants_gui(["zoo", "get", FE])
