"""The window, driven as a user would (pytest-qt, offscreen): open, play, seek, step, switch
model, compare, a simulated camera, export, a broken file, and a clean close."""

import json
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings, Qt  # noqa: E402

from vivit_desktop.engine.sources import LoopingSource, open_source  # noqa: E402
from vivit_desktop.model import create_model, save_model  # noqa: E402
from vivit_desktop.ui.main_window import MainWindow  # noqa: E402

from test_engine import make_clip  # noqa: E402

LABELS = ("static", "pan left", "pan right", "zoom in", "shake")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two tiny checkpoints of different variants (8 frames of 32 px, one every frame)."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for code in ("fe", "st"):
        # init="timm": a random head, so that two untrained models disagree (scenic's is zero: uniform outputs)
        model = create_model(f"vivit_t16x2_{code}", labels=LABELS, num_frames=8, image_size=32, depth=1, init="timm",
                             temporal_depth=1, hidden_size=32, num_heads=2, mlp_dim=64)
        model.card = model.card.replace(name=f"tiny-{code}", frame_stride=1)
        paths[code] = save_model(model, folder / f"tiny-{code}")[0]
    return paths


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.avi", frames=60, size=(72, 96), fps=25.0)


@pytest.fixture
def window(qtbot, tmp_path, models, monkeypatch):
    monkeypatch.setenv("VIVIT_DESKTOP_MODELS", str(tmp_path / "user-models"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(model=str(models["fe"]), settings=settings, show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def test_emitting_signals_leaves_reference_counts_alone():
    """PySide6 6.12.0 lost a reference to the bool emit() returns, every time: on Python 3.11 the
    window crashed (bool_dealloc) after some minutes of playback. pyproject excludes it."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        happened = Signal(int)

    emitter = Emitter()
    emitter.happened.connect(lambda value: None)
    before = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    for i in range(2000):
        emitter.happened.emit(i)
    after = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    assert all(abs(a - b) < 50 for a, b in zip(after, before)), (before, after)


def _analysed(w, qtbot, timeout=30000):
    qtbot.waitUntil(lambda: w.workspace.primary is not None and w.workspace.primary.complete, timeout=timeout)
    return w.workspace.primary


def test_open_play_seek_step_and_results_fill_the_timeline(window, qtbot, clip):
    w = window
    w.open_path(clip)
    qtbot.waitUntil(lambda: w.workspace.info is not None and w.video.painted > 0, timeout=10000)
    assert w.workspace.info.fps == pytest.approx(25.0) and not w.workspace.info.live
    run = _analysed(w, qtbot)
    assert run.name == "tiny-fe" and run.frame_count == 60
    result = run.result()
    covered = np.isfinite(result.frame_probs()).all(axis=1)
    assert covered.all()  # every frame has a prediction once the analysis is done
    qtbot.waitUntil(lambda: w.tracks[0].timeline.shown != [], timeout=5000)  # the timer drew the curves
    # playing moves the playhead; pause holds it
    qtbot.waitUntil(lambda: w.workspace.playhead > 5 or not w.workspace.playing, timeout=10000)
    w.toggle_play() if w.workspace.playing else None  # paused, so the frame sought stays on screen
    qtbot.waitUntil(lambda: not w.workspace.playing, timeout=5000)
    w.seek(40)
    qtbot.waitUntil(lambda: w.workspace.playhead == 40, timeout=5000)
    w.step(-3)
    qtbot.waitUntil(lambda: w.workspace.playhead == 37, timeout=5000)
    assert not w.workspace.reader.playing  # stepping pauses
    ranked, window_result, state = w.workspace.prediction_at()
    assert [label for label, _ in ranked][:1] and set(label for label, _ in ranked) == set(LABELS)
    assert window_result.start_frame <= 37 <= window_result.end_frame and state == ""
    # the bracket marks the frames that fed the shown prediction
    w.refresh()
    low, high = w.tracks[0].timeline.bracket.getRegion()
    assert low * 25 <= 37 <= high * 25
    # clicking the timeline seeks (the signal the click emits)
    w.tracks[0].timeline.seek_requested.emit(10)
    qtbot.waitUntil(lambda: w.workspace.playhead == 10, timeout=5000)
    assert "0:00.40" in w.transport.time_label.text()


def test_threshold_and_smoothing_apply_to_cached_results_without_rerunning(window, qtbot, clip):
    w = window
    w.open_path(clip)
    run = _analysed(w, qtbot)
    windows_before = list(run.windows)
    w.panel.threshold_box.setValue(0.99)  # no class of a random tiny model is that sure
    assert run.result().post.threshold == pytest.approx(0.99)
    assert (run.result().frame_labels() == -1).all() and run.result().segments() == []
    w.refresh()
    assert w.panel.segments.count() == 0 and w.tracks[0].timeline.threshold.value() == pytest.approx(0.99)
    w.panel.threshold_box.setValue(0.0)
    w.panel.smooth_box.setCurrentIndex(1)
    w.refresh()
    assert w.panel.segments.count() >= 1
    assert run.windows == windows_before  # nothing was run again


def test_switching_and_comparing_models(window, qtbot, clip, models):
    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    w.set_model(str(models["st"]))
    run = _analysed(w, qtbot)
    assert run.name == "tiny-st" and len(w.workspace.runs) == 1
    w.refresh()
    assert "tiny-st" in w.tracks[0].caption.text() and "tiny-st" in w.status.labels["model"].text()
    w.compare_with(str(models["fe"]))
    qtbot.waitUntil(lambda: len(w.workspace.runs) == 2 and w.workspace.runs[1].complete, timeout=30000)
    w.refresh()
    assert len(w.tracks) == 2 and "tiny-fe" in w.tracks[1].caption.text()
    assert not np.allclose(w.workspace.runs[0].result().frame_probs(), w.workspace.runs[1].result().frame_probs())
    w.compare_with(None)
    w.refresh()
    assert len(w.workspace.runs) == 1 and len(w.tracks) == 1


def test_a_model_that_cannot_load_says_so_and_the_window_goes_on(window, qtbot, clip, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    (tmp_path / "bad.json").write_text("{}")
    window.open_path(clip)
    _analysed(window, qtbot)
    window.set_model(str(bad))
    qtbot.waitUntil(lambda: "cannot load the model" in window.last_error, timeout=10000)
    assert window.isVisible()


def test_the_ethogram_never_shows_the_last_model_s_rows_under_another_model(window, qtbot, clip, models, tmp_path):
    """Switching model empties the ethogram until the new model's results arrive (it kept the
    last model's rows, under the new model's name, while the timeline was already empty)."""
    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    qtbot.waitUntil(lambda: w.ethogram.frames == 60, timeout=5000)
    bad = tmp_path / "broken.safetensors"  # a model that never gives results
    bad.write_bytes(b"not a checkpoint")
    w.set_model(str(bad))
    qtbot.waitUntil(lambda: "cannot load the model" in w.last_error, timeout=10000)
    qtbot.waitUntil(lambda: w.ethogram.frames == 0, timeout=5000)
    assert w.ethogram.labels == LABELS  # the rows' names stay, empty
    w.set_model(str(models["st"]))
    run = _analysed(w, qtbot)
    expected = run.result().smoothed_probs()
    qtbot.waitUntil(lambda: w.ethogram.frames == 60 and np.allclose(w.ethogram.probs, expected), timeout=5000)


def test_simulated_camera_gives_live_predictions(window, qtbot, tmp_path):
    w = window
    video = make_clip(tmp_path / "cam.avi", frames=40, size=(72, 96), fps=25.0)
    w.open_camera(lambda: LoopingSource(lambda: open_source(video)))
    qtbot.waitUntil(lambda: w.workspace.info is not None and w.workspace.info.live, timeout=10000)
    qtbot.waitUntil(lambda: w.workspace.primary is not None and len(w.workspace.primary.windows) >= 3, timeout=30000)
    ranked, window_result, _ = w.workspace.prediction_at()
    assert ranked and window_result is not None
    w.refresh()
    assert "live" in w.status.labels["state"].text() or "stale" in w.status.labels["state"].text()
    assert w.workspace.primary.live.latency_s > 0


def test_exports_write_files_and_never_leave_partial_ones(window, qtbot, clip, tmp_path):
    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    written = w.export_predictions("json", tmp_path / "out.json")
    data = json.loads(written[0].read_text())
    assert data["model"]["name"] == "tiny-fe" and len(data["frames"]) == 60
    assert [p.name for p in w.export_predictions("csv", tmp_path / "out.csv")][0] == "out.csv"
    png = w.export_plots(tmp_path / "plots.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    thread = w.export_annotated(tmp_path / "annotated.mp4", wait=True)
    qtbot.waitUntil(lambda: not thread.isRunning(), timeout=30000)
    with open_source(tmp_path / "annotated.mp4") as source:
        assert sum(1 for _ in source.frames()) == 60
    # cancelled at once: no file, no temporary left behind
    thread = w.export_annotated(tmp_path / "cancelled.mp4")
    thread.cancel()
    thread.wait(30000)
    assert not (tmp_path / "cancelled.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and "cancelled" in p.name]


def test_a_broken_file_gives_a_message_and_the_window_stays_usable(window, qtbot, tmp_path, clip):
    w = window
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 4096)
    w.open_path(clip)
    _analysed(w, qtbot)
    qtbot.waitUntil(lambda: w.panel.ranking.rowCount() > 0 and w.panel.segments.count() > 0, timeout=5000)
    attention_axis = w.window_attention.getPlotItem().getAxis("bottom")
    qtbot.waitUntil(lambda: bool(attention_axis._tickLevels), timeout=5000)  # the shown window's frame numbers
    with qtbot.waitSignal(w.source_failed, timeout=10000) as blocker:
        w.open_path(broken)
    assert "broken.mp4" in blocker.args[0]
    assert w.isVisible() and w.workspace.reader is None and w.windowTitle() == "ViViT Desktop"
    qtbot.wait(300)  # a refresh tick: nothing of the previous clip comes back
    assert w.panel.ranking.rowCount() == 0 and w.panel.segments.count() == 0  # the earlier clip's results are gone
    assert attention_axis._tickLevels in (None, [[]])  # nor its window's frame numbers
    assert w.status.labels["state"].text() == ""  # nothing is "preparing"
    assert str(broken.resolve()) not in w.recent_files() and str(clip.resolve()) in w.recent_files()
    w.open_path(clip)  # the next file opens normally
    _analysed(w, qtbot)
    assert w.workspace.primary.frame_count == 60


def test_a_file_cut_short_says_so_in_the_window(window, qtbot, tmp_path):
    """A file whose end is missing plays and is analysed to where it stops, and the predictions
    panel says the file is incomplete (only the log said so)."""
    whole = make_clip(tmp_path / "whole.avi", frames=120, size=(72, 96), fps=25.0)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    w = window
    w.open_path(whole)
    _analysed(w, qtbot)
    assert not w.panel.note.isVisibleTo(w.panel)  # a whole file: no note
    w.open_path(cut)
    run = _analysed(w, qtbot)
    assert 0 < run.frame_count < 120
    qtbot.waitUntil(lambda: "damaged or incomplete" in w.panel.note.text(), timeout=5000)
    assert w.panel.note.isVisibleTo(w.panel) and "decoding stopped" in w.panel.note.text()
    assert run.result().file_warnings()  # the window's exports carry it too


def test_recent_files_and_settings_persist(window, qtbot, clip, tmp_path, models):
    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    w.workspace.set_hop(4)
    assert w.recent_files()[0] == str(Path(clip).resolve())
    w.close()
    again = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat), show_dialogs=False)
    qtbot.addWidget(again)
    assert again.settings.hop == 4 and again.workspace.model_spec == str(models["fe"]) and again.recent_files()[0] == str(Path(clip).resolve())
    again.shutdown()


def test_closing_waits_once_for_everything_not_once_for_each(window, qtbot, monkeypatch):
    """Closing gave an export, the analyses and a download each the whole wait in turn (up to
    three times 0.6 s, and the process lived on for 1.3-1.5 s); they share one deadline now."""
    import time

    w = window
    asked = {}

    def stuck_export(wait_ms):  # an export that does not stop: it takes all the time it is given
        asked["export"] = wait_ms
        time.sleep(wait_ms / 1000)
        return False

    def workspace_shutdown(wait_ms):
        asked["analyses"] = wait_ms
        return True

    monkeypatch.setattr(w.exports, "cancel", stuck_export)
    monkeypatch.setattr(w.workspace, "shutdown", workspace_shutdown)
    assert w.shutdown(wait_ms=300) is False  # the export still runs: not a clean exit
    assert 250 <= asked["export"] <= 300 and asked["analyses"] == 0  # nothing left to wait for the rest
    monkeypatch.undo()  # (the fixture's own shutdown waits for the real ones)


def test_close_leaves_no_threads_behind(qtbot, tmp_path, models, clip):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(model=str(models["st"]), settings=settings, show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    w.open_path(clip)
    qtbot.waitUntil(lambda: w.workspace.primary is not None and w.workspace.primary.loaded is not None, timeout=10000)
    video = make_clip(tmp_path / "cam.avi", frames=40, size=(72, 96), fps=25.0)
    w.open_camera(lambda: LoopingSource(lambda: open_source(video)))  # switches source mid-analysis
    qtbot.waitUntil(lambda: w.workspace.primary is not None and len(w.workspace.primary.windows) >= 1, timeout=30000)
    reader, runs = w.workspace.reader, list(w.workspace.runs) + list(w.workspace._retired)
    w.close()
    assert not reader.isRunning()
    assert all(not (run.running if hasattr(run, "running") else run.isRunning()) for run in runs)  # runs, and readers closing
    assert not [t for t in threading.enumerate() if t.name == "vivit-inference" and t.is_alive()]


def test_import_checkpoint_copies_it_to_the_user_folder_and_switches(window, qtbot, clip, models, tmp_path):
    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    thread = w.model_dialogs.import_checkpoint(models["st"])  # converted on a thread: the window plays on
    qtbot.waitUntil(lambda: w.model_dialogs.last_imported is not None, timeout=30000)
    assert not thread.isRunning()
    imported = w.model_dialogs.last_imported
    assert imported == tmp_path / "user-models" / "tiny-st.safetensors" and imported.exists()
    run = _analysed(w, qtbot)
    assert run.name == "tiny-st"
    w.models_menu.aboutToShow.emit()  # the Models menu: the user's models first, the current one ticked
    actions = w.models_menu.actions()
    assert actions[0].text() == "Your models" and not any(a.text().startswith("Variants of") for a in actions)
    mine = [a for a in actions if "tiny-st" in a.text() and not a.menu()]
    assert len(mine) == 1 and mine[0].text().startswith("Model 1: spatio-temporal") and mine[0].isChecked()
    compare = next(a.menu() for a in actions if a.text() == "Compare with")
    assert not any("tiny-st" in a.text() for a in compare.actions())  # not compared with itself


def test_import_takes_a_scenic_checkpoint_and_the_card_shows_its_heads(window, qtbot, clip, tmp_path, monkeypatch):
    """Models > Import checkpoint... with a scenic (Flax) file: the same import as the command line."""
    from PySide6.QtWidgets import QFileDialog, QPushButton

    from scenic_fixtures import write_scenic_checkpoint

    source = tmp_path / "ek" / "checkpoint"
    source.parent.mkdir()
    write_scenic_checkpoint(source, "fe", "optimizer", num_classes=397, depth=1, temporal_depth=1)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(source), ""))
    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    w.models_menu.aboutToShow.emit()  # the user opens the Models menu
    next(a for a in w.models_menu.actions() if a.text() == "Import checkpoint…").trigger()
    dialog = w.model_dialogs.importer
    assert dialog.isVisible() and not dialog.import_button.isEnabled()  # nothing chosen yet
    qtbot.mouseClick(next(b for b in dialog.findChildren(QPushButton) if b.text() == "File…"), Qt.LeftButton)
    assert dialog.path.text() == str(source) and "scenic" in dialog.kind.text() and dialog.scenic.isEnabled()
    qtbot.mouseClick(dialog.import_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: w.model_dialogs.last_imported is not None, timeout=30000)
    assert not dialog.isVisible()  # done: the dialog closed itself
    run = _analysed(w, qtbot)
    assert run.name == "checkpoint" and run.card.multi_head
    assert (tmp_path / "user-models" / "checkpoint.safetensors").exists()
    qtbot.waitUntil(lambda: w.panel.ranking.rowCount() == 397, timeout=5000)
    assert w.panel.ranking.item(0, 0).text().startswith("verb: ") and w.panel.ranking.item(97, 0).text().startswith("noun: ")
    w.model_dialogs.show_card()  # an imported card has no training fps: it must still show


def test_the_model_card_names_its_figures_in_words_with_units(qtbot, tmp_path, clip, monkeypatch):
    model = create_model("vivit_t16x2_fe", labels=LABELS, num_frames=8, image_size=32, depth=1, temporal_depth=1,
                         hidden_size=32, num_heads=2, mlp_dim=64)
    model.card = model.card.replace(name="carded", frame_stride=1, evaluation={
        "heldout_accuracy": 0.934, "heldout_clips": 1000, "cpu_window_ms": 3.71, "cpu_threads": 2,
        "training_minutes": 42.4})
    weights = save_model(model, tmp_path / "carded")[0]
    monkeypatch.setenv("VIVIT_DESKTOP_MODELS", str(tmp_path / "user-models"))
    w = MainWindow(model=str(weights), settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                   show_dialogs=False)
    qtbot.addWidget(w)
    w.open_path(clip)
    _analysed(w, qtbot)
    w.model_dialogs.show_card()
    html = w.model_dialogs.card_html
    assert "Held-out accuracy</b></td><td>93.4% of 1000 clips" in html and "3.7 ms" in html and "42 min" in html
    assert "heldout" not in html and "_ms" not in html  # no field names
    w.shutdown()


def test_the_import_dialog_names_a_fine_tunes_classes_and_says_what_is_wrong(window, qtbot, models, tmp_path):
    """A checkpoint whose classes need names: the dialog takes a labels file for any kind of
    checkpoint; a file with the wrong number of lines, or a path that is no checkpoint, is said
    in the window (which keeps playing), and the models folder is left as it was."""
    w = window
    dialog = w.model_dialogs.import_dialog()
    dialog.path.setText(str(tmp_path / "nothing-here"))
    assert "no such file or folder" in dialog.kind.text() and not dialog.import_button.isEnabled()
    dialog.path.setText(str(models["st"]))
    assert "checkpoint of this program" in dialog.kind.text() and not dialog.scenic.isEnabled()
    names = tmp_path / "mine.txt"
    names.write_text("left\nright\n")  # the model has five classes
    dialog.set_labels_file(names)
    qtbot.mouseClick(dialog.import_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.model_dialogs.importing and dialog.import_button.isEnabled(), timeout=30000)
    assert "name 2 classes; the checkpoint has 5" in w.last_error
    assert not (tmp_path / "user-models" / "tiny-st.safetensors").exists()
    names.write_text("left\nright\nup\ndown\nstill\n")
    qtbot.mouseClick(dialog.import_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: w.model_dialogs.last_imported is not None, timeout=30000)
    from vivit_desktop.model import load_model

    assert load_model(w.model_dialogs.last_imported).card.labels == ("left", "right", "up", "down", "still")
    assert "labels: mine" in w.statusBar().currentMessage()


def test_dropping_a_file_opens_it(window, qtbot, clip):
    from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(clip))])
    event = QDropEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.workspace.info is not None and window.workspace.info.path == Path(clip), timeout=10000)


def test_a_two_head_model_shows_both_heads_in_the_panel_overlay_and_segments(qtbot, tmp_path, clip, monkeypatch):
    """An Epic-Kitchens-style model: one output, a verb head and a noun head, each ranked on its own."""
    monkeypatch.setenv("VIVIT_DESKTOP_MODELS", str(tmp_path / "user-models"))
    labels = ("onion", "pan", "knife", "cut", "wash")
    model = create_model("vivit_t16x2_st", labels=labels, num_frames=8, image_size=32, depth=1, hidden_size=32,
                         num_heads=2, mlp_dim=64)
    model.card = model.card.replace(name="tiny-kitchen", frame_stride=1, heads=(("verb", 3, 2), ("noun", 0, 3)))
    path = save_model(model, tmp_path / "tiny-kitchen")[0]
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(model=str(path), settings=settings, show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    try:
        w.open_path(clip)
        _analysed(w, qtbot)
        qtbot.waitUntil(lambda: w.panel.ranking.rowCount() == 5, timeout=5000)
        rows = [w.panel.ranking.item(r, 0).text() for r in range(w.panel.ranking.rowCount())]
        assert [r.split(":")[0] for r in rows] == ["verb"] * 2 + ["noun"] * 3  # each head ranked on its own
        values = [w.panel.ranking.item(r, 1).data(Qt.UserRole) for r in range(5)]
        assert sum(values[:2]) == pytest.approx(1, abs=0.015) and sum(values[2:]) == pytest.approx(1, abs=0.015)  # (bars move in whole percents)
        qtbot.waitUntil(lambda: w.panel.segments.count() > 0, timeout=5000)
        text = w.panel.segments.item(0).text()
        assert " + " in text and any(v in text for v in ("cut", "wash")) and any(n in text for n in labels[:3])
    finally:
        w.shutdown()


def test_overlay_and_loop_menu_items_and_their_keys_work(window, qtbot, clip):
    """Each printed `TypeError: QCheckBox.setChecked() takes exactly one argument (0 given)`."""
    w = window
    w.open_path(clip)
    qtbot.waitUntil(lambda: w.workspace.info is not None, timeout=10000)
    qtbot.keyClick(w, Qt.Key_O)
    assert not w.transport.overlay_box.isChecked() and not w.video.show_overlay and not w.acts["overlay"].isChecked()
    w.transport.overlay_box.click()  # the checkbox and the View menu agree
    assert w.acts["overlay"].isChecked() and w.video.show_overlay
    w.acts["loop"].trigger()
    assert w.transport.loop_box.isChecked()


def test_escape_leaves_full_screen(window, qtbot):
    w = window
    qtbot.keyClick(w, Qt.Key_F)
    qtbot.waitUntil(w.isFullScreen, timeout=3000)
    qtbot.keyClick(w, Qt.Key_Escape)
    qtbot.waitUntil(lambda: not w.isFullScreen(), timeout=3000)


def test_closing_while_a_video_opens_leaves_no_thread_running(qtbot, tmp_path, models, clip):
    """The queued `opened` of a source closed since used to start an analysis on a closed window."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(model=str(models["st"]), settings=settings, show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    w.open_path(clip)
    w.shutdown()  # at once, before the reader's `opened` is delivered
    qtbot.wait(300)  # deliver whatever was queued
    assert w.workspace.primary is None or not w.workspace.primary.running


def test_int8_precision_and_the_models_default_hop(window, qtbot, clip):
    from PySide6.QtWidgets import QMenu

    from vivit_desktop.engine.windows import default_hop

    w = window
    assert w.settings.hop == 0  # a fresh window: the model's own hop
    w.open_path(clip)
    run = _analysed(w, qtbot)
    assert run.request.hop == default_hop(run.card) == 8 and len(run.windows) >= 60 // 8
    w.models_menu.aboutToShow.emit()  # what opening the Models menu does
    menus = {m.title(): m for m in w.models_menu.findChildren(QMenu)}
    assert "Int8 on the CPU (dynamic quantisation)" in [a.text() for a in menus["Precision"].actions()]
    assert [a.text() for a in menus["New prediction every"].actions()][0].startswith("As the model suggests")
    w.workspace.set_precision("int8")  # the runs restart with the model in int8
    run = _analysed(w, qtbot)
    assert run.device_info.precision_used == "int8" and run.device_info.device_type == "cpu"
    assert np.allclose(np.stack([x.probs for x in run.windows]).sum(1), 1, atol=1e-5)
    w.refresh()
    assert w.status.labels["device"].text() == "Device: cpu, int8"
    assert "dynamic quantisation" in w.status.labels["device"].toolTip()


def test_a_csv_export_asks_before_replacing_its_companion_files(window, qtbot, clip, tmp_path, monkeypatch):
    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    target = tmp_path / "r.csv"
    for name in ("r.csv", "r.windows.csv", "r.segments.csv"):
        (tmp_path / name).write_text("mine\n")
    questions = []
    monkeypatch.setattr(w, "ask", lambda question: questions.append(question) or False)
    assert w.export_predictions("csv", target) == []
    assert "r.windows.csv and r.segments.csv" in questions[0]
    assert all((tmp_path / n).read_text() == "mine\n" for n in ("r.csv", "r.windows.csv", "r.segments.csv"))
    monkeypatch.setattr(w, "ask", lambda question: True)
    assert len(w.export_predictions("csv", target)) == 3 and (tmp_path / "r.windows.csv").read_text() != "mine\n"


def test_exporting_while_the_analysis_runs_asks_first_and_says_where_it_wrote(window, qtbot, tmp_path, monkeypatch):
    w = window
    long_clip = make_clip(tmp_path / "long.avi", frames=3000, size=(72, 96), fps=25.0)
    w.open_path(long_clip)
    qtbot.waitUntil(lambda: w.workspace.primary is not None and len(w.workspace.primary.windows) > 0, timeout=30000)
    questions = []
    monkeypatch.setattr(w, "ask", lambda question: questions.append(question) or False)
    assert w.export_predictions("json", tmp_path / "part.json") == []  # declined: nothing written
    assert "still running" in questions[0] and "Export what is done so far?" in questions[0]
    assert not (tmp_path / "part.json").exists()
    run = _analysed(w, qtbot, timeout=120000)
    assert run.complete
    questions.clear()
    written = w.export_predictions("json", tmp_path / "whole.json")
    assert not questions and written == w.exports.last_written == [tmp_path / "whole.json"]
    assert str(tmp_path) in w.statusBar().currentMessage() and "whole.json" in w.statusBar().currentMessage()


def test_a_kinetics_sized_result_is_prepared_off_the_window_s_thread(qtbot, tmp_path, monkeypatch):
    """400 classes over a long video: the per-frame arrays (frames × 400), the smoothing, the
    segments and the ethogram's rows are made on the window's worker thread, and drawn when
    ready: the window's own thread never computes them (it took about a second a redraw)."""
    from vivit_desktop.engine.results import AnalysisResult
    from vivit_desktop.ui.main_window import PREPARE_CELLS

    classes = 400
    model = create_model("vivit_t16x2_fe", labels=[f"action {i}" for i in range(classes)], num_frames=8, image_size=32,
                         depth=1, init="timm", temporal_depth=1, hidden_size=32, num_heads=2, mlp_dim=64)
    model.card = model.card.replace(name="tiny-kinetics", frame_stride=1)
    path = save_model(model, tmp_path / "tiny-kinetics")[0]
    frames = PREPARE_CELLS // classes + 100
    clip = make_clip(tmp_path / "long.avi", frames=frames, size=(48, 64), fps=25.0)
    computed_on = []
    original = AnalysisResult.frame_probs

    def frame_probs(self):
        if self._frame_probs is None:
            computed_on.append(threading.current_thread().name)
        return original(self)

    monkeypatch.setattr(AnalysisResult, "frame_probs", frame_probs)
    w = MainWindow(model=str(path), settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    try:
        w.open_path(clip)
        _analysed(w, qtbot, timeout=60000)
        qtbot.waitUntil(lambda: w.ethogram.frames == frames and w.panel.segments.count() > 0
                        and len(w.tracks[0].timeline.shown) > 0, timeout=10000)
        assert len(w.ethogram.labels) == classes
        assert computed_on and threading.main_thread().name not in computed_on, computed_on
        assert all(name.startswith("vivit-prepare") for name in computed_on)
    finally:
        w.shutdown()


def test_analysis_progress_is_shown_without_painting_the_window_there_and_then(window, qtbot, clip):
    """The status bar says how far the analysis is. A progress report (several a second from the
    analysis process) asks for a repaint; a QProgressBar repainted at once, and with it every
    widget waiting to repaint: most of the window thread's time while a file was analysed."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    qtbot.waitUntil(lambda: not w.status.progress.isVisible(), timeout=3000)  # analysed: no bar
    size = w.video.size()

    class Paints(QObject):
        count = 0

        def eventFilter(self, receiver, event):
            if event.type() == QEvent.Paint:
                Paints.count += 1
            return False

    paints = Paints()
    QApplication.instance().installEventFilter(paints)
    try:
        w.workspace.primary.complete = False  # as while analysing: the next report shows the bar
        w.video.update()  # a frame waiting to be painted, as there always is while playing
        qtbot.wait(50)
        before = Paints.count
        w.workspace.progress.emit(30, 60)
        assert Paints.count == before  # nothing painted inside the report
        qtbot.waitUntil(lambda: w.status.progress.isVisible() and Paints.count > before, timeout=3000)
        assert w.status.progress.text() == "analysed 50%"
        assert w.video.size() == size  # the bar appearing moved nothing above the status bar
        before = Paints.count
        w.workspace.progress.emit(45, 60)
        assert Paints.count == before
        qtbot.waitUntil(lambda: w.status.progress.text() == "analysed 75%", timeout=3000)
    finally:
        QApplication.instance().removeEventFilter(paints)
