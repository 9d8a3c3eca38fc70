"""The window's analysis run (ui/analysis.py) goes through the one file-analysis service
(engine.service.analyse_video): the sidecar cache read and filled there, and cancelled with
its CancelToken."""

import pytest

pytest.importorskip("pytestqt")

from vivit_desktop.engine import service  # noqa: E402
from vivit_desktop.model import create_model, save_model  # noqa: E402
from vivit_desktop.ui.analysis import AnalysisRun, RunRequest  # noqa: E402

from test_engine import make_clip  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = create_model("vivit_t16x2_st", labels=["a", "b", "c"], num_frames=8, image_size=32, depth=1,
                         hidden_size=32, num_heads=2, mlp_dim=64)
    model.card = model.card.replace(name="tiny", frame_stride=1)
    return str(save_model(model, tmp_path_factory.mktemp("models") / "tiny")[0])


def _run(qtbot, request) -> AnalysisRun:
    run = AnalysisRun(request)
    with qtbot.waitSignal(run.ended, timeout=60000):
        pass
    return run


def test_a_second_run_of_the_same_file_comes_from_the_service_s_cache(qtbot, tmp_path, checkpoint, monkeypatch):
    clip = make_clip(tmp_path / "clip.avi", frames=40)
    request = RunRequest(checkpoint, device="cpu", hop=4, source=clip, frame_count=40)
    first = _run(qtbot, request)
    assert first.complete and first.windows and first.frame_count == 40
    assert len(list(service.ResultCache().folder.glob("*.json"))) == 1  # stored by the service

    def no_inference(*args, **kwargs):
        raise AssertionError("the model ran although the cache holds this analysis")

    monkeypatch.setattr(service, "analyze_source", no_inference)
    second = _run(qtbot, request)
    assert second.complete and len(second.windows) == len(first.windows) and second.decoded == 40


def test_cancelling_a_run_stops_it_and_caches_nothing(qtbot, tmp_path, checkpoint):
    clip = make_clip(tmp_path / "clip.avi", frames=400)
    run = AnalysisRun(RunRequest(checkpoint, device="cpu", hop=4, source=clip, frame_count=400))
    qtbot.waitUntil(lambda: run.decoded > 0, timeout=60000)
    run.cancel()
    assert run.stop(30000) and not run.complete and run.decoded < 400
    assert not list(service.ResultCache().folder.glob("*.json"))  # nothing of the cancelled run is cached
