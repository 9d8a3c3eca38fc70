"""The pieces every workflow shares: the one error base (vivit_desktop.errors), the one way to
cancel (vivit_desktop.cancel), and the one file-analysis service the CLI, the cluster runner and
the window call (engine.service.analyse_video / run_job)."""

import threading
import time

import pytest

from vivit_desktop.cancel import CancelToken, Cancelled
from vivit_desktop.engine.analysis import WindowSettings
from vivit_desktop.engine.cache import ResultCache
from vivit_desktop.engine.predictor import Predictor
from vivit_desktop.engine.service import AnalysisJob, analyse_video, run_job
from vivit_desktop.errors import VivitError
from vivit_desktop.model import create_model

from test_engine import make_clip


def test_domain_errors_share_one_base_and_keep_their_old_ones():
    from vivit_desktop import cluster, fileio, zoo
    from vivit_desktop.engine import analysis, sources
    from vivit_desktop.model import checkpoint, config, importers
    from vivit_desktop.train import data, generator, trainer

    for error, old in [(sources.SourceError, ValueError), (analysis.NonFiniteOutput, ValueError),
                       (checkpoint.CheckpointError, ValueError), (config.ConfigError, ValueError),
                       (importers.ForeignWeightsError, ValueError), (cluster.ClusterError, ValueError),
                       (data.DataError, ValueError), (trainer.TrainError, ValueError),
                       (generator.GeneratorError, ValueError), (zoo.DownloadError, OSError),
                       (fileio.FileExistsRefusal, FileExistsError)]:
        assert issubclass(error, VivitError) and issubclass(error, old), error
    assert str(checkpoint.CheckpointError("x.safetensors", "no card")) == "x.safetensors: no card"
    assert zoo.DownloadError(2, "gone").errno == 2
    assert zoo.Cancelled is Cancelled and issubclass(analysis.Cancelled, Cancelled)
    assert issubclass(Cancelled, VivitError) and Cancelled.exit_code == 130 and VivitError.exit_code == 1


def test_a_cancel_token_is_one_way_and_wakes_a_waiter_from_another_thread():
    token = CancelToken()
    assert not token.cancelled and not token.wait(0)
    token.raise_if_cancelled()  # nothing yet
    threading.Timer(0.05, token.cancel).start()
    started = time.monotonic()
    assert token.wait(10) and time.monotonic() - started < 5
    assert token.cancelled
    token.cancel()  # twice is fine
    with pytest.raises(Cancelled, match="export cancelled"):
        token.raise_if_cancelled("export cancelled")
    assert "cancelled=True" in repr(token)


@pytest.fixture(scope="module")
def predictor():
    model = create_model("vivit_t16x2_st", labels=["left", "right", "still"], num_frames=8, image_size=32, depth=1)
    return Predictor(model, device="cpu")


def test_analyse_video_fills_the_cache_and_gives_it_back(tmp_path, predictor):
    clip = make_clip(tmp_path / "a.avi", frames=40)
    cache = ResultCache(tmp_path / "cache")
    batches, stages = [], []

    def progress(stage, description, total, work):
        stages.append((stage, description))
        return work(None)

    result, cached = analyse_video(clip, predictor, "m" * 64, WindowSettings(hop=4, batch_size=4), cache,
                                   progress=progress, on_windows=batches.append)
    assert not cached and stages == [("analysis", "a.avi")]
    assert [w.index for b in batches for w in b] == list(range(len(result.windows))) and result.windows
    again, cached = analyse_video(clip, predictor, "m" * 64, WindowSettings(hop=4), cache, on_windows=batches.append)
    assert cached and len(again.windows) == len(result.windows) and again.frame_count == 40
    fresh, cached = analyse_video(clip, predictor, "m" * 64, WindowSettings(hop=4), cache, use_cache=False)
    assert not cached
    _, cached = analyse_video(clip, predictor, "random-weights", WindowSettings(hop=4), cache)
    assert not cached  # random weights are never cached


def test_a_cached_result_without_spatial_maps_is_analysed_again_when_the_heatmap_needs_them(tmp_path, predictor):
    from vivit_desktop.engine.cache import spatial_path

    clip = make_clip(tmp_path / "a.avi", frames=40)
    cache = ResultCache(tmp_path / "cache")
    analyse_video(clip, predictor, "m" * 64, WindowSettings(hop=4), cache)
    for npz in (tmp_path / "cache").rglob("*.npz"):
        npz.unlink()  # as an entry cached before maps were kept
    result, cached = analyse_video(clip, predictor, "m" * 64, WindowSettings(hop=4), cache)
    assert cached and result.spatial_maps() is None  # the predictions alone are still served
    result, cached = analyse_video(clip, predictor, "m" * 64, WindowSettings(hop=4), cache, need_spatial=True)
    assert not cached and result.spatial_at(20) is not None
    entries = list((tmp_path / "cache").rglob("*.json"))
    assert entries and all(spatial_path(e).exists() for e in entries)  # stored again, with the maps


def test_a_cancelled_analysis_stores_nothing_and_writes_nothing(tmp_path, predictor):
    from vivit_desktop.engine.analysis import Cancelled as AnalysisCancelled

    clip = make_clip(tmp_path / "a.avi", frames=60)
    cache = ResultCache(tmp_path / "cache")
    token = CancelToken()
    seen = []

    def progress(stage, description, total, work):
        def tick(n):
            seen.append(n)
            if len(seen) == 20:
                token.cancel()
        return work(tick)

    job = AnalysisJob(clip, tmp_path / "a.json", tmp_path / "a.mp4", WindowSettings(hop=4))
    with pytest.raises(AnalysisCancelled) as stopped:
        run_job(job, predictor, "m" * 64, cache, progress, token)
    assert stopped.value.partial.frame_count == 20
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "a.mp4").exists()
    _, cached = analyse_video(clip, predictor, "m" * 64, WindowSettings(hop=4), cache)
    assert not cached  # the cancelled run left no cache entry


def test_a_cancelled_annotation_leaves_no_video_and_no_temporary(tmp_path, predictor):
    """What the window's export does: write_annotated(..., cancel=token)."""
    from vivit_desktop.engine.annotate import write_annotated
    from vivit_desktop.engine.sources import FileSource

    clip = make_clip(tmp_path / "a.avi", frames=30)
    result, _ = analyse_video(clip, predictor, "m" * 64, WindowSettings(hop=4), ResultCache(tmp_path / "cache"))
    token = CancelToken()
    written = []

    def tick(n):
        written.append(n)
        if len(written) == 5:
            token.cancel()

    with FileSource(clip) as source, pytest.raises(Cancelled, match="export cancelled"):
        write_annotated(result, source, tmp_path / "out.mp4", progress=tick, cancel=token)
    assert len(written) == 5 and sorted(p.name for p in tmp_path.iterdir()) == ["a.avi", "cache"]
