"""The window's parts as a user meets them: the shortcut list generated from the one action table,
the heatmap key, full screen with the video alone, the post-processing form, the Models menu's
order, a clip shorter than the model's window, settings read back from a damaged file, a plots
export that does not depend on the window's size, and a window that appears before torch loads."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from vivit_desktop.ui.actions import ACTIONS, Act, shortcut_rows  # noqa: E402
from vivit_desktop.ui.main_window import MainWindow  # noqa: E402

from test_engine import make_clip, make_vfr_clip  # noqa: E402
from test_ui import _analysed, models  # noqa: E402,F401 - the tiny checkpoints fixture


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.avi", frames=60, size=(72, 96), fps=25.0)


def _window(qtbot, tmp_path, model, monkeypatch, settings=None):
    monkeypatch.setenv("VIVIT_DESKTOP_MODELS", str(tmp_path / "user-models"))
    settings = settings or QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(model=str(model), settings=settings, show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture
def window(qtbot, tmp_path, models, monkeypatch):  # noqa: F811
    w = _window(qtbot, tmp_path, models["st"], monkeypatch)
    yield w
    w.shutdown()


def _menu_action(w, path: str):
    """A menu item by its menu path as the user reads it: "Help/Keyboard shortcuts"."""
    *menus, text = path.split("/")
    actions = w.menuBar().actions()
    for title in menus:
        menu = next(a.menu() for a in actions if a.text().replace("&", "") == title)
        menu.aboutToShow.emit()
        actions = menu.actions()
    return next(a for a in actions if a.text().replace("&", "") == text)


def test_the_shortcut_list_is_generated_from_the_actions_and_every_shortcut_works(window, qtbot):
    w = window
    _menu_action(w, "Help/Keyboard shortcuts").trigger()
    html = w.shortcuts_html
    declared = [a for a in ACTIONS if isinstance(a, Act) and a.shortcut is not None]
    assert len(shortcut_rows()) == len(declared) >= 20  # Ctrl+O is a platform standard: present here
    for menu, text, keys in shortcut_rows():
        assert text in html and keys in html
    assert "Space" in html and "Esc" in html and "Double-click the video" in html
    # each declared shortcut is on an action of the window, so it works with the menu bar hidden
    window_keys = {a.shortcut().toString() for a in w.actions() if not a.shortcut().isEmpty()}
    for menu, text, keys in shortcut_rows():
        assert keys in window_keys, f"{text}: {keys} is listed but no action has it"


def test_h_shows_where_the_model_looks_over_the_video(window, qtbot, clip):
    w = window
    w.open_path(clip)
    run = _analysed(w, qtbot)
    w.toggle_play() if w.workspace.playing else None
    qtbot.waitUntil(lambda: not w.workspace.playing, timeout=5000)
    w.seek(30)
    qtbot.waitUntil(lambda: w.workspace.playhead == 30, timeout=5000)
    spatial = w.workspace.spatial_at()
    assert spatial is not None and spatial.shape == (run.card.arch.grid_size,) * 2
    assert np.isclose(spatial.sum(), 1.0, atol=1e-3)
    plain = w.video.grab_frame()
    qtbot.keyClick(w, Qt.Key_H)
    assert w.transport.heatmap_box.isChecked() and w.acts["heatmap"].isChecked() and w.settings.heatmap
    heat = w.video.grab_frame()
    assert plain != heat  # the frame shown now carries the map
    w.transport.opacity.setValue(90)  # a stronger heatmap: the frame is drawn again, paused
    assert w.video.grab_frame() != heat and w.settings.heatmap_opacity == pytest.approx(0.9)
    qtbot.keyClick(w, Qt.Key_H)
    assert not w.transport.heatmap_box.isChecked() and w.video.grab_frame() == plain


def test_the_heatmap_appears_when_the_map_arrives_after_the_frame(window, qtbot, tmp_path):
    """A 3-frame clip has played to its end before its one window is analysed: with the heatmap
    on, the frame on screen gets its map when the result arrives, not at the next seek."""
    w = window
    qtbot.keyClick(w, Qt.Key_H)
    assert w.settings.heatmap
    w.open_path(make_clip(tmp_path / "short.avi", frames=3, size=(72, 96), fps=25.0))
    _analysed(w, qtbot)
    qtbot.waitUntil(lambda: not w.workspace.playing, timeout=5000)
    qtbot.waitUntil(lambda: w.workspace.spatial_at() is not None, timeout=5000)
    w.refresh()
    heat = w.video.grab_frame()
    qtbot.keyClick(w, Qt.Key_H)
    assert w.video.grab_frame() != heat  # what was on screen carried the map


@pytest.mark.skipif(__import__("shutil").which("ffmpeg") is None, reason="needs the ffmpeg command")
def test_a_variable_rate_file_has_one_clock_for_the_time_label_plots_and_ethogram(window, qtbot, tmp_path):
    """10 frames 0.1 s apart, then 20 frames a second apart (as a file whose header lies, or a
    phone's recording, holds): the duration, the plots' axis and the ethogram's times all follow
    the frames' timestamps, as the player's clock does, not frames ÷ fps (3 s)."""
    path = make_vfr_clip(tmp_path / "vfr.mkv")
    w = window
    w.open_path(path)
    _analysed(w, qtbot)
    if w.workspace.playing:
        w.toggle_play()
    w.seek(25)
    qtbot.waitUntil(lambda: w.workspace.playhead == 25, timeout=5000)
    w.refresh()
    assert w.transport.time_label.text() == "0:16.00 / 0:20.10"
    low, high = w.tracks[0].timeline.getPlotItem().vb.viewRange()[0]
    assert low <= 0.0 and 20.0 <= high < 20.5  # the plots span the video's 20 s
    assert w.tracks[0].timeline.cursor.value() == pytest.approx(16.0)
    e = w.ethogram
    assert e.describe(0, e.x_of_frame(25)).splitlines()[1] == "0:16.00 (frame 25)"
    # the ethogram's columns are time, as the plots' axis: frame 25's second is 1/20 of its width
    assert e.time_at(e.x_of_playhead(25)) == pytest.approx(16.0, abs=0.05)
    width = e.image_rect().width()
    assert e.x_of_playhead(26) - e.x_of_playhead(25) == pytest.approx(width / 20.1, abs=1)
    assert e.frame_at(e.x_of_time(16.9)) == 25 and e.frame_at(e.x_of_time(0.55)) == 5
    qtbot.keyClick(w, Qt.Key_Left, Qt.ControlModifier)  # a second back: the frame shown a second earlier
    qtbot.waitUntil(lambda: w.workspace.playhead == 24, timeout=5000)


def test_full_screen_shows_the_video_alone_and_esc_brings_the_rest_back(window, qtbot):
    w = window
    assert w.predictions_dock.isVisible() and w.ethogram.isVisible() and w.tracks_box.isVisible()
    w.attention_dock.close()  # a dock the user had closed stays closed afterwards
    qtbot.keyClick(w, Qt.Key_F)
    qtbot.waitUntil(w.isFullScreen, timeout=3000)
    assert not w.predictions_dock.isVisible() and not w.ethogram.isVisible() and not w.tracks_box.isVisible()
    assert not w.menuBar().isVisible() and w.video.isVisible() and w.transport.isVisible()
    qtbot.keyClick(w, Qt.Key_Escape)
    qtbot.waitUntil(lambda: not w.isFullScreen(), timeout=3000)
    assert w.predictions_dock.isVisible() and w.ethogram.isVisible() and w.menuBar().isVisible()
    assert not w.attention_dock.isVisible()


def test_the_smoothing_width_is_off_without_smoothing_and_one_frame_reads_one_frame(window, qtbot):
    panel = window.panel
    assert panel.smooth_box.currentData() == "none" and not panel.smooth_width.isEnabled()
    panel.smooth_box.setCurrentIndex(1)
    assert panel.smooth_width.isEnabled()
    panel.hysteresis_box.setValue(1)
    assert panel.hysteresis_box.text() == "1 frame"
    panel.hysteresis_box.setValue(3)
    assert panel.hysteresis_box.text() == "3 frames"


def test_the_models_menu_lists_the_shipped_variants_in_the_papers_order(window, qtbot):
    w = window
    w.models_menu.aboutToShow.emit()
    family = next(a.menu() for a in w.models_menu.actions() if a.text() == "camera-motion")
    titles = [a.text().split(":")[0] for a in family.actions()]
    assert titles == ["Model 1", "Model 2", "Model 3", "Model 4"]


def test_a_clip_shorter_than_the_window_is_marked_not_given_a_confident_label(window, qtbot, tmp_path):
    w = window
    short = make_clip(tmp_path / "short.avi", frames=3, size=(72, 96), fps=25.0)
    w.open_path(short)
    _analysed(w, qtbot)
    w.refresh()
    assert w.workspace.prediction_at().state == "short clip"
    assert w.panel.note.isVisible() and "3 frames" in w.panel.note.text() and "8" in w.panel.note.text()
    assert "short clip" in w.status.labels["state"].text()


def test_settings_from_a_damaged_file_fall_back_to_their_defaults(qtbot, tmp_path, models, monkeypatch):  # noqa: F811
    ini = tmp_path / "settings.ini"
    ini.write_text("[General]\ndevice=banana\nhop=often\nprecision=int8\nheatmap=yes-please\n"
                   "heatmap_opacity=7\nrecent=/a/clip.mp4\n")
    w = _window(qtbot, tmp_path, models["st"], monkeypatch, QSettings(str(ini), QSettings.IniFormat))
    s = w.settings
    assert (s.device, s.hop, s.precision, s.heatmap, s.heatmap_opacity) == ("auto", 0, "int8", False, 0.5)
    assert w.recent_files() == ["/a/clip.mp4"]  # one remembered file reads back as a list
    w.shutdown()


def test_the_plots_png_has_the_same_size_whatever_the_window(window, qtbot, clip, tmp_path):
    w = window
    w.resize(800, 600)
    w.open_path(clip)
    _analysed(w, qtbot)
    w.refresh()
    png = w.export_plots(tmp_path / "plots.png")
    image = QImage(str(png))
    assert image.width() == 1600 and image.height() >= 800


def test_the_window_module_does_not_import_torch():
    """The window appears before PyTorch is imported (seconds on a loaded machine); the engine
    loads behind it."""
    code = ("import sys, vivit_desktop.ui.main_window, vivit_desktop.ui.app; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


class _StallingCamera:
    """A simulated camera that sends frames at 25 fps until `stall` is set, then nothing (a
    dropped stream) until `stop`."""

    name, fps = "stalling camera", 25.0

    def __init__(self, stall, stop):
        self.stall, self.stop = stall, stop

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def frames(self):
        from vivit_desktop.engine.sources import Frame

        rng = np.random.default_rng(0)
        i = 0
        while not self.stall.is_set() and not self.stop.is_set():
            yield Frame(i, i / self.fps, rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
            i += 1
        self.stop.wait(30)  # the outage: no frame until the test ends


def test_a_live_outage_is_shown_on_the_video_not_only_in_the_status_bar(window, qtbot):
    import threading

    w = window
    stall, stop = threading.Event(), threading.Event()
    try:
        w.open_camera(lambda: _StallingCamera(stall, stop))
        qtbot.waitUntil(lambda: w.workspace.primary is not None and len(w.workspace.primary.windows) >= 2,
                        timeout=20000)
        w.refresh()
        assert "reconnecting" not in w.video._state
        stall.set()
        qtbot.waitUntil(lambda: w.workspace.outage_s() > 1.5, timeout=10000)
        w.refresh()
        assert "reconnecting" in w.video._state and "no frames for" in w.status.labels["state"].text()
    finally:
        stop.set()


def test_the_question_mark_says_what_the_labels_mean_and_the_column_says_what_they_are(window, qtbot, clip):
    w = window
    w.model_dialogs.show_labels_help()  # before a model is loaded: said, not a crash
    assert "No model is loaded" in w.last_error
    w.open_path(clip)
    run = _analysed(w, qtbot)
    qtbot.mouseClick(w.panel.help_button, Qt.LeftButton)
    html = w.model_dialogs.labels_html
    assert all(label in html for label in run.card.labels) and "tiny-st" not in html.split("</p>")[-1]
    assert w.panel.ranking.horizontalHeaderItem(0).text() == "class"  # a 5-class model of no stated kind


def test_the_ethogram_filter_gives_the_keys_back(window, qtbot):
    w = window
    box = w.ethogram.filter_box
    qtbot.mouseClick(box, Qt.LeftButton)
    box.setFocus()
    qtbot.keyClicks(box, "h")
    assert box.text() == "h" and not w.transport.heatmap_box.isChecked()  # typing filters
    qtbot.keyClick(box, Qt.Key_E, Qt.ControlModifier)  # a Ctrl shortcut stays the window's: Export CSV
    assert "Nothing to export" in w.statusBar().currentMessage()
    qtbot.keyClick(box, Qt.Key_Escape)  # clears the filter and leaves it
    assert box.text() == "" and not box.hasFocus()
    qtbot.keyClick(w, Qt.Key_H)
    assert w.transport.heatmap_box.isChecked()


def _paused_at(w, qtbot, frame: int) -> None:
    w.toggle_play() if w.workspace.playing else None
    qtbot.waitUntil(lambda: not w.workspace.playing, timeout=5000)
    w.seek(frame)
    qtbot.waitUntil(lambda: w.workspace.playhead == frame, timeout=5000)


def test_a_compared_model_has_its_cursor_at_once_and_the_views_say_which_model_they_show(window, qtbot, clip,
                                                                                         models):  # noqa: F811
    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    _paused_at(w, qtbot, 40)
    w.refresh()
    assert not w.ethogram.caption.isVisible() and w.predictions_dock.windowTitle() == "Predictions"
    w.panel.threshold_box.setValue(0.5)
    w.compare_with(str(models["fe"]))  # paused: no new frame moves the cursors
    qtbot.waitUntil(lambda: len(w.workspace.runs) == 2 and w.workspace.runs[1].complete, timeout=30000)
    w.refresh()
    main, compared = w.tracks
    for plot in (compared.timeline, compared.attention):
        assert plot.cursor.value() == pytest.approx(40 / 25.0) == main.timeline.cursor.value()
    assert compared.timeline.threshold.value() == pytest.approx(0.5) == main.timeline.threshold.value()
    # the ethogram and the panel show the first model's results: they say so
    assert w.ethogram.caption.isVisible() and "tiny-st" in w.ethogram.caption.text()
    assert "tiny-st" in w.predictions_dock.windowTitle()
    w.compare_with(None)
    w.refresh()
    assert not w.ethogram.caption.isVisible() and w.predictions_dock.windowTitle() == "Predictions"


def test_compare_with_names_models_as_the_models_menu_does(window, qtbot):
    w = window
    w.models_menu.aboutToShow.emit()
    compare = next(a.menu() for a in w.models_menu.actions() if a.text() == "Compare with")
    family = next(a.menu() for a in w.models_menu.actions() if a.text() == "camera-motion")
    listed = {a.text() for a in family.actions()}
    names = [a.text() for a in compare.actions() if "camera-motion-fe" in a.text()]
    assert len(names) == 1 and names[0].startswith("Model 2: factorised encoder — camera-motion-fe")
    assert names[0] in listed
    shipped = [a.text()[:7] for a in compare.actions() if "camera-motion-" in a.text()]
    assert shipped == sorted(shipped)  # "Model 2", "Model 3", "Model 4": the paper's order, as the menu above


def test_the_window_attention_names_each_frame_once_where_a_window_repeats_frames(window, qtbot, clip):
    w = window
    w.open_path(clip)
    _analysed(w, qtbot)
    for frame in (0, 59):  # the windows there repeat the clip's first or last frame
        _paused_at(w, qtbot, frame)
        w.refresh()
        frames = w.window_attention.frames
        assert len(set(frames)) < len(frames)
        ticks = w.window_attention.getPlotItem().getAxis("bottom")._tickLevels[0]  # (bar, label) as drawn
        labels = [text for _, text in ticks]
        assert len(labels) == len(set(labels)) and str(frame) in labels
        assert all(frames[i] == int(text) for i, text in ticks)


def _luminance(colour) -> float:
    def linear(c):
        c /= 255.0
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * linear(colour.red()) + 0.7152 * linear(colour.green()) + 0.0722 * linear(colour.blue())


@pytest.mark.parametrize("p", [0.45, 0.75, 1.0])
def test_the_ranking_figure_stays_readable_over_its_bar(window, qtbot, p):
    """The style's bar was painted over the percentage above about 40%; the figure's pixels over
    the bar must contrast with it (WCAG's 4.5:1 for text)."""
    w = window
    w.panel.set_ranking([("pan left", p), ("static", 1 - p)])
    table = w.panel.ranking
    bar = table.item(0, 1)
    assert bar.text() == f"{p:.0%}"
    image = table.viewport().grab(table.visualItemRect(bar)).toImage()
    filled = int(image.width() * p) - 3  # the bar's columns, less its edge
    middle = image.height() // 2
    pixels = [image.pixelColor(x, y) for x in range(2, filled) for y in range(middle - 3, middle + 4)]
    values = [_luminance(c) for c in pixels]
    bar_colour = float(np.median(values))  # the bar: most of those pixels
    text = max(values, key=lambda v: abs(v - bar_colour))  # the pixel that differs most: the figure's
    contrast = (max(text, bar_colour) + 0.05) / (min(text, bar_colour) + 0.05)
    assert contrast >= 4.5, contrast


def test_the_dark_palette_s_placeholder_text_reads_against_its_field(qtbot):
    """The ethogram's "filter 10 classes" was dark grey on dark grey."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from vivit_desktop.ui.app import _dark_palette

    app = QApplication.instance()
    before = app.palette()
    try:
        _dark_palette(app)
        palette = app.palette()
        placeholder, base = palette.color(QPalette.PlaceholderText), palette.color(QPalette.Base)
        assert placeholder.lightness() - base.lightness() >= 90
    finally:
        app.setPalette(before)


def test_a_narrow_window_s_status_bar_ends_cut_fields_with_an_ellipsis_and_keeps_the_frame_number(qtbot, tmp_path,
                                                                                                   clip, monkeypatch):
    """At 800x600 the status fields were cut mid-word, and "Frame 169" read "Frame 1"."""
    from vivit_desktop.model import create_model, save_model

    model = create_model("vivit_t16x2_st", labels=("a", "b"), num_frames=8, image_size=32, depth=1, hidden_size=32,
                         num_heads=2, mlp_dim=64)
    model.card = model.card.replace(name="camera-motion-st-fine-tuned-on-our-lab-s-cage-recordings-2026", frame_stride=1)
    w = _window(qtbot, tmp_path, save_model(model, tmp_path / "long")[0], monkeypatch)
    w.resize(800, 600)
    w.open_path(clip)
    _analysed(w, qtbot)
    w.toggle_play() if w.workspace.playing else None
    qtbot.waitUntil(lambda: not w.workspace.playing, timeout=5000)
    w.seek(57)
    qtbot.waitUntil(lambda: w.workspace.playhead == 57, timeout=5000)
    qtbot.wait(300)  # laid out, and the status bar updated
    frame = w.status.labels["frame"]
    assert frame.shown_text() == frame.text() == "Frame 57"
    state = w.status.labels["state"]
    assert state.shown_text() == state.text() == "analysed"  # what the prediction is doing, whole
    cut = [label for label in w.status.labels.values() if label.shown_text() != label.text()]
    assert cut, "nothing was squeezed: the test needs a longer name"
    for label in cut:
        assert label.shown_text().endswith("…") and label.text() in label.toolTip()
    caption = w.tracks[0].caption  # the timeline's caption names the model too: elided, not widening the window
    assert w.width() == 800 and caption.shown_text().endswith("…")
    w.shutdown()


@pytest.mark.parametrize("size", [(150, 480), (640, 360)])
def test_the_overlay_stays_inside_a_narrow_picture(qtbot, size):
    """On a portrait video the overlay's box ran into the picture's right edge, its percentages
    cut off there. Outside the picture, and in its rightmost pixels, the view is the same with
    the overlay or not."""
    from vivit_desktop.ui.video_view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    w, h = size
    view.set_frame(np.full((h, w, 3), 128, np.uint8))
    view.set_overlay([("rotate counter-clockwise", 0.61), ("zoom in", 0.2), ("static", 0.1)], "camera-motion-st",
                     "preparing (analysed to 0:04.40)")
    with_overlay = view.grab().toImage()
    view.show_overlay = False
    view.update()
    without = view.grab().toImage()
    picture = view.image_rect().toAlignedRect()
    assert with_overlay != without  # the overlay is drawn
    inner = picture.adjusted(0, 0, -6, 0)  # the box keeps clear of the picture's right edge
    for x in range(0, view.width(), 2):
        for y in range(0, view.height(), 2):
            if not inner.contains(x, y):
                assert with_overlay.pixel(x, y) == without.pixel(x, y), (x, y)
