"""The ethogram (every class as a row over time) and the timeline curves of the picked classes,
driven as a user would: clicks on rows and names, typing into the filter box, hovering."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from vivit_desktop.ui.ethogram import NAN_COLOUR, Ethogram, format_time
from vivit_desktop.ui.plots import LEADING, AttentionTrack, Timeline, class_colour, class_means, leading_classes

SPAGHETTI = 5
WESTERN = 9  # "Spaghetti Western": capitals


def make_data(classes: int = 600, frames: int = 20000, seed: int = 0):
    """Low noise everywhere; class 7 labelled over 60% of the frames, class 3 over 20%, class 11
    never labelled but with the highest mean; "eating spaghetti" at index 5, "Spaghetti Western"
    at 9; frames 0-299 NaN."""
    rng = np.random.default_rng(seed)
    labels = tuple(f"verb: class {i}" if i % 2 else f"noun: thing {i}" for i in range(classes))
    labels = labels[:SPAGHETTI] + ("eating spaghetti",) + labels[SPAGHETTI + 1:WESTERN] + ("Spaghetti Western",) + \
        labels[WESTERN + 1:]
    probs = (rng.random((frames, classes), dtype=np.float32) * 0.05)
    frame_labels = np.full(frames, -1)
    a, b = int(frames * 0.3), int(frames * 0.9)
    probs[a:b, 7] = 0.8
    frame_labels[a:b] = 7
    c, d = int(frames * 0.05), int(frames * 0.25)
    probs[c:d, 3] = 0.7
    frame_labels[c:d] = 3
    probs[:, 11] = 0.5  # high mean, never above the others enough to be labelled
    probs[:300] = np.nan
    frame_labels[:300] = -1
    return probs, labels, frame_labels


@pytest.fixture
def ethogram(qtbot):
    e = Ethogram()
    qtbot.addWidget(e)
    e.resize(1000, 300)
    e.show()
    qtbot.waitExposed(e)
    return e


def pixel(widget, x: float, y: float) -> QColor:
    return widget.grab().toImage().pixelColor(int(x), int(y))


def hover(qtbot, e: Ethogram, x: float, y: float) -> str:
    """Move the mouse over the rows; the hover text."""
    qtbot.mouseMove(e.rows, QPoint(int(x) + 3, int(y) + 1))  # a move to where the mouse is sends nothing
    e.rows.setToolTip("")
    qtbot.mouseMove(e.rows, QPoint(int(x), int(y)))
    return e.rows.toolTip()


def row_y(e: Ethogram, class_index: int) -> int:
    """The middle of the class's row in the rows widget, scrolled into view."""
    row = e.shown_classes().index(class_index)
    e.scroll.ensureVisible(0, row * e.row_height + e.row_height // 2, 0, e.row_height)
    return row * e.row_height + e.row_height // 2


def test_600_classes_20k_frames_set_and_render(ethogram, qtbot):
    probs, labels, frame_labels = make_data()
    ethogram.set_data(probs, labels, frame_labels, timebase=30.0)
    ethogram.set_playhead(5000)
    for size in ((1000, 300), (800, 200)):
        ethogram.resize(*size)
        qtbot.wait(10)
        shot = ethogram.grab()
        assert not shot.isNull() and shot.width() == size[0]
    assert len(ethogram.shown_classes()) == 600
    # readable rows, scrolled rather than squeezed into 200 px
    assert 14 <= ethogram.row_height <= 20
    assert ethogram.rows.height() == 600 * ethogram.row_height
    assert ethogram.scroll.verticalScrollBar().maximum() > 0
    # the labelled class's row is bright where it is labelled, dark where not
    y = row_y(ethogram, 7)
    bright = pixel(ethogram.rows, ethogram.x_of_frame(15000), y)
    dark = pixel(ethogram.rows, ethogram.x_of_frame(1000), y)
    assert bright.lightness() > 120 > dark.lightness() + 60


def test_rows_are_sorted_by_coverage_then_mean(ethogram, qtbot):
    probs, labels, frame_labels = make_data()
    ethogram.set_data(probs, labels, frame_labels, timebase=30.0)
    order = ethogram.shown_classes()
    assert order[:3] == [7, 3, 11]  # 60% labelled, 20%, then the highest mean of the unlabelled
    assert ethogram.coverage[7] == pytest.approx(0.6, abs=1e-3)
    np.testing.assert_allclose(ethogram.means, class_means(probs), atol=1e-6)
    rest = order[2:]  # none labelled: by mean probability
    assert all(ethogram.means[a] >= ethogram.means[b] for a, b in zip(rest, rest[1:]))
    # a user sees it: the first row's name, in the hover text
    text = hover(qtbot, ethogram, 30, ethogram.row_height // 2)
    assert text.startswith(labels[7])


def test_the_filter_box_hides_rows_that_do_not_match(ethogram, qtbot):
    probs, labels, frame_labels = make_data()
    ethogram.set_data(probs, labels, frame_labels, timebase=30.0)
    qtbot.keyClicks(ethogram.filter_box, "spag")  # case-insensitive substring
    assert sorted(ethogram.shown_classes()) == [SPAGHETTI, WESTERN]
    assert ethogram.rows.height() == 2 * ethogram.row_height
    names = [hover(qtbot, ethogram, 30, (row + 0.5) * ethogram.row_height).split("\n")[0] for row in (0, 1)]
    assert sorted(names) == ["Spaghetti Western", "eating spaghetti"]
    qtbot.keyClicks(ethogram.filter_box, "hetti w")
    assert ethogram.shown_classes() == [WESTERN]
    ethogram.filter_box.clear()
    qtbot.keyClicks(ethogram.filter_box, "verb:")  # the head of qualified labels (odd classes but 5 and 9)
    assert len(ethogram.shown_classes()) == 298 and all(labels[k].startswith("verb:") for k in ethogram.shown_classes())
    qtbot.keyClicks(ethogram.filter_box, " nothing like this")
    assert ethogram.shown_classes() == []
    ethogram.grab()  # "no class contains ..." instead of rows
    ethogram.filter_box.clear()
    assert len(ethogram.shown_classes()) == 600


@pytest.mark.parametrize("frame", [0, 777, 12345, 19999])
def test_clicking_the_image_seeks_to_the_frame_under_the_mouse(ethogram, qtbot, frame):
    probs, labels, frame_labels = make_data()
    ethogram.set_data(probs, labels, frame_labels, timebase=30.0)
    frames_per_pixel = 20000 / ethogram.image_rect().width()
    x = int(ethogram.x_of_frame(frame))
    with qtbot.waitSignal(ethogram.seek_requested, timeout=1000) as blocker:
        qtbot.mouseClick(ethogram.rows, Qt.LeftButton, pos=QPoint(x, ethogram.row_height * 3 + 4))
    assert abs(blocker.args[0] - frame) <= frames_per_pixel + 1
    # the time axis above seeks too (its x is the rows' x less the names column)
    with qtbot.waitSignal(ethogram.seek_requested, timeout=1000) as blocker:
        qtbot.mouseClick(ethogram.header, Qt.LeftButton, pos=QPoint(x - ethogram.names_width, 5))
    assert abs(blocker.args[0] - frame) <= frames_per_pixel + 1


def test_seeks_add_the_offset_of_live_data(ethogram, qtbot):
    probs, labels, frame_labels = make_data(classes=20, frames=3000)
    ethogram.set_data(probs, labels, frame_labels, timebase=25.0, offset=10000)
    x = int(ethogram.x_of_frame(11500))
    with qtbot.waitSignal(ethogram.seek_requested, timeout=1000) as blocker:
        qtbot.mouseClick(ethogram.rows, Qt.LeftButton, pos=QPoint(x, 4))
    assert abs(blocker.args[0] - 11500) <= 2


def test_picking_a_class_draws_its_curve_in_the_colour_of_its_name(ethogram, qtbot):
    probs, labels, frame_labels = make_data(classes=400, frames=5000)
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(800, 200)
    timeline.set_extent(30.0, len(probs))
    ethogram.picked_changed.connect(lambda classes: timeline.set_probs(probs, labels, classes))
    ethogram.set_data(probs, labels, frame_labels, timebase=30.0)
    default = leading_classes(class_means(probs))
    assert ethogram.picked() == default and len(default) == LEADING
    assert timeline.shown_classes == default  # the same rule as the timeline's own default
    timeline.set_probs(probs, labels)
    assert timeline.shown_classes == default
    ethogram.set_picked(default)  # what the window does: classes=ethogram.picked()

    assert SPAGHETTI not in default
    qtbot.keyClicks(ethogram.filter_box, "spag")
    with qtbot.waitSignal(ethogram.picked_changed, timeout=1000) as blocker:
        qtbot.mouseClick(ethogram.rows, Qt.LeftButton, pos=QPoint(30, ethogram.row_height // 2))  # the name
    assert blocker.args[0] == default + [SPAGHETTI]
    assert timeline.shown_classes == default + [SPAGHETTI]
    assert timeline.shown[-1] == "eating spaghetti"
    curve = timeline.curves[len(default)]
    x, y = curve.getData()
    assert len(y) <= 2 * timeline.columns() < len(probs)  # at most two points a pixel column
    analysed = probs[300:, SPAGHETTI]
    assert np.nanmax(y) == analysed.max() and np.nanmin(y) == analysed.min()  # no peak lost
    assert np.isnan(y[0]) and x[-1] == pytest.approx((len(probs) - 1) / 30.0)  # the unanalysed start a gap; to the end
    legend_names = [name for _, name in timeline.legend.entries]
    assert legend_names[-1] == "eating spaghetti"
    colour = class_colour(SPAGHETTI)
    assert curve.opts["pen"].color().getRgb()[:3] == colour
    box = pixel(ethogram.rows, 8, ethogram.row_height // 2)  # the pick box left of the name
    assert (box.red(), box.green(), box.blue()) == colour
    # clicking the name again unpicks it: the curve goes
    with qtbot.waitSignal(ethogram.picked_changed, timeout=1000):
        qtbot.mouseClick(ethogram.rows, Qt.LeftButton, pos=QPoint(8, ethogram.row_height // 2))  # the box
    assert timeline.shown_classes == default
    assert len(timeline.curves[len(default)].getData()[1] or []) == 0
    unpicked = pixel(ethogram.rows, 8, ethogram.row_height // 2)
    assert (unpicked.red(), unpicked.green(), unpicked.blue()) != colour


def test_the_class_on_screen_is_always_drawn(ethogram, qtbot):
    probs, labels, frame_labels = make_data(classes=400, frames=5000)
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.set_extent(30.0, len(probs))
    ethogram.picked_changed.connect(lambda classes: timeline.set_probs(probs, labels, classes))
    ethogram.set_data(probs, labels, frame_labels, timebase=30.0)
    with qtbot.waitSignal(ethogram.picked_changed, timeout=1000):
        ethogram.set_current(250)
    assert ethogram.picked()[-1] == 250 and 250 in timeline.shown_classes
    ethogram.set_picked([])  # the user unpicked everything
    assert ethogram.picked() == [250] and timeline.shown_classes == [250]
    # clicking its name picks it explicitly; clicking again unpicks it, yet it stays drawn
    qtbot.keyClicks(ethogram.filter_box, "class 250")
    qtbot.mouseClick(ethogram.rows, Qt.LeftButton, pos=QPoint(30, ethogram.row_height // 2))
    qtbot.mouseClick(ethogram.rows, Qt.LeftButton, pos=QPoint(30, ethogram.row_height // 2))
    assert timeline.shown_classes == [250]
    ethogram.set_current(None)
    assert timeline.shown_classes == []
    # user picks survive new data of the same model; a new model's labels reset them
    ethogram.set_picked([3])
    ethogram.set_data(probs * 0.5, labels, frame_labels, timebase=30.0)
    assert ethogram.picked() == [3]
    ethogram.set_data(probs[:, :300], labels[:300], frame_labels, timebase=30.0)
    assert ethogram.picked() == leading_classes(class_means(probs[:, :300]))


def test_frames_not_analysed_are_grey_not_zero(ethogram, qtbot):
    frames, classes = 2000, 50
    probs = np.zeros((frames, classes), np.float32)
    probs[:1000] = np.nan  # not analysed yet
    labels = tuple(f"c{i}" for i in range(classes))
    ethogram.set_data(probs, labels, np.full(frames, -1), timebase=30.0)
    y = ethogram.row_height // 2
    unanalysed = pixel(ethogram.rows, ethogram.x_of_frame(400), y)
    zero = pixel(ethogram.rows, ethogram.x_of_frame(1500), y)
    assert (unanalysed.red(), unanalysed.green(), unanalysed.blue()) == NAN_COLOUR
    assert zero.lightness() < 20 and zero != unanalysed
    text = hover(qtbot, ethogram, int(ethogram.x_of_frame(400)), y)
    assert "not analysed" in text
    text = hover(qtbot, ethogram, int(ethogram.x_of_frame(1500)), y)
    assert "probability 0.000" in text
    # and on the timeline a gap, not a line at zero
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.set_probs(probs, labels, [0])
    x, y = timeline.curves[0].getData()
    step = 2 * 2000 / 30 / len(x)  # seconds a pixel column spans
    assert np.isnan(y[x < 1000 / 30 - step]).all() and (y[x > 1000 / 30 + step] == 0).all()


def test_a_three_frame_event_in_30_minutes_stays_visible(ethogram):
    frames, classes = 54000, 400
    probs = np.zeros((frames, classes), np.float32)
    probs[31000:31003, 9] = 0.95
    labels = tuple(f"c{i}" for i in range(classes))
    ethogram.set_data(probs, labels, np.full(frames, -1), timebase=30.0)
    y = row_y(ethogram, 9)
    assert pixel(ethogram.rows, ethogram.x_of_frame(31001), y).lightness() > 150
    assert pixel(ethogram.rows, ethogram.x_of_frame(20000), y).lightness() < 20


def test_hover_names_class_time_and_probability(ethogram, qtbot):
    probs, labels, frame_labels = make_data(classes=30, frames=3000)
    ethogram.set_data(probs, labels, frame_labels, timebase=30.0)
    y = row_y(ethogram, 7)
    text = hover(qtbot, ethogram, ethogram.x_of_frame(1500), y)
    frame = int(re.search(r"\(frame (\d+)\)", text).group(1))
    assert abs(frame - 1500) <= 3000 / ethogram.image_rect().width() + 1  # the frames of that pixel
    assert text.startswith(labels[7]) and format_time(frame / 30.0) in text and "probability 0.800" in text
    assert format_time(1500 / 30.0) == "0:50.00"
    assert "labelled with this class" in text


def test_labelled_frames_are_outlined_and_multi_head_labels_count(ethogram):
    frames, classes = 1000, 6  # two heads: 0-2 verbs, 3-5 nouns
    probs = np.full((frames, classes), 0.1, np.float32)
    labels = ("verb: cut", "verb: pour", "verb: wash", "noun: onion", "noun: pan", "noun: cup")
    per_head = np.full((frames, 2), -1)
    per_head[100:600, 0] = 1
    per_head[100:400, 1] = 4
    ethogram.set_data(probs, labels, per_head, timebase=30.0)
    assert ethogram.shown_classes()[:2] == [1, 4]
    assert ethogram.coverage[1] == pytest.approx(0.5) and ethogram.coverage[4] == pytest.approx(0.3)
    # the outline: white at the top edge of the row inside the labelled stretch, not outside it
    top = ethogram.shown_classes().index(4) * ethogram.row_height + 1
    inside = pixel(ethogram.rows, ethogram.x_of_frame(250), top)
    outside = pixel(ethogram.rows, ethogram.x_of_frame(700), top)
    assert inside.lightness() > 240 and outside.lightness() < 120


def test_frame_classes_of_a_real_two_head_result():
    from vivit_desktop.engine.results import AnalysisResult
    from vivit_desktop.model import create_model

    model = create_model("vivit_t16x2_st", labels=("onion", "pan", "knife", "cut", "wash"), num_frames=8,
                         image_size=32, depth=1, hidden_size=32, num_heads=2, mlp_dim=64)
    card = model.card.replace(heads=(("verb", 3, 2), ("noun", 0, 3)))
    probs = np.full((6, 5), 0.05)
    probs[1:3, 3] = probs[1:3, 1] = 0.9  # cut + pan
    probs[4, 4] = 0.9  # wash, no noun
    result = AnalysisResult(source="x", fps=30.0, frame_count=6, frames_skipped=0, claimed_frame_count=None,
                            card=card, hop=1, windows=[], seconds=0.0, _frame_probs=probs)
    result.post = result.post.__class__(threshold=0.5)
    heads = result.frame_classes()  # what the window gives the ethogram
    np.testing.assert_array_equal(heads, [[-1, -1], [3, 1], [3, 1], [-1, -1], [4, -1], [-1, -1]])


def test_the_timeline_legend_stays_compact(qtbot):
    frames, classes = 3000, 600
    probs = np.random.default_rng(1).random((frames, classes)).astype(np.float32)
    labels = tuple(f"verb: a rather long class name number {i}" for i in range(classes))
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(800, 200)  # its share of an 800x600 window
    timeline.show()
    qtbot.waitExposed(timeline)
    timeline.set_extent(30.0, frames)
    for count in (4, 8, 12):
        timeline.set_probs(probs, labels, list(range(count)))
        qtbot.wait(20)
        plot = timeline.getPlotItem().vb.sceneBoundingRect()
        legend = timeline.legend.sceneBoundingRect()
        assert len(timeline.legend.entries) == min(count, Timeline.LEGEND_ENTRIES)
        assert legend.width() * legend.height() < 0.35 * plot.width() * plot.height(), count
        assert legend.width() < 0.6 * plot.width()
    assert timeline.legend.entries[-1] == (None, f"+ {12 - Timeline.LEGEND_ENTRIES + 1} more")
    assert f"+ {12 - Timeline.LEGEND_ENTRIES + 1} more" in timeline.legend.toPlainText()
    assert len(timeline.shown) == 12 and all(len(curve.getData()[1]) > 0 for curve in timeline.curves[:12])
    # the hover lists every drawn class
    assert all(labels[k] in timeline.describe(10.0) for k in range(12))
    with pytest.raises(ValueError, match="out of range"):
        timeline.set_probs(probs, labels, [classes])
    timeline.set_probs(None, ())
    assert timeline.shown == [] and timeline.legend.entries == [] and not timeline.legend.isVisible()


def test_when_the_leading_classes_swap_places_the_legend_names_follow_their_curves(qtbot):
    """While windows arrive the leading classes change order: each legend entry still names its
    curve, in its colour."""
    frames, labels = 300, ("static", "pan left", "pan right", "zoom in")
    probs = np.random.default_rng(2).random((frames, 4))
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(800, 200)
    timeline.show()
    timeline.set_extent(30.0, frames)
    for order in ([0, 1, 2], [2, 0, 1], [3, 0, 1], [3, 0]):
        timeline.set_probs(probs, labels, order)
        entries = timeline.legend.entries
        assert [name for _, name in entries] == [labels[k] for k in order]
        assert timeline.legend.toPlainText().split() == " ".join(f"━━ {labels[k]}" for k in order).split()
        for (colour, _), curve, k in zip(entries, timeline.curves, order):  # the sample beside a name: its curve's colour
            assert colour == tuple(class_colour(k)) == curve.opts["pen"].color().getRgb()[:3]


def test_a_class_keeps_its_colour_whatever_else_is_picked_and_for_another_model(ethogram, qtbot):
    """The colour is the class's own (its index): not its place among the picks, which changed
    with every pick and with another model's ranking of the same labels."""
    probs, labels, frame_labels = make_data(classes=40, frames=2000)
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.set_extent(30.0, len(probs))

    def drawn(data):  # what the window does at each refresh
        timeline.set_probs(data, labels, ethogram.picked())
        return {k: curve.opts["pen"].color().getRgb()[:3] for k, curve in zip(timeline.shown_classes, timeline.curves)}

    ethogram.set_data(probs, labels, frame_labels, timebase=30.0)
    first = drawn(probs)
    assert ethogram.picked().index(7) == 0 and len(set(first.values())) == len(first)
    colour = first[7]
    other = probs.copy()  # another model with the same labels, ranking class 11 first
    other[:, 11] = 0.9
    ethogram.set_data(other, labels, frame_labels, timebase=30.0)
    assert ethogram.picked().index(7) == 1 and drawn(other)[7] == colour
    ethogram.set_picked([3, 7])
    assert drawn(other)[7] == colour
    box = pixel(ethogram.rows, 8, row_y(ethogram, 7))  # its pick box: the colour of its curve
    assert (box.red(), box.green(), box.blue()) == colour == class_colour(7)


def test_the_playhead_marks_the_instant_the_plots_cursor_marks(ethogram, qtbot):
    """Both at the shown frame's start, its timestamp (the time axis above, the time label); the
    ethogram drew it half a frame later, in the middle of the frame's column."""
    frames, fps = 50, 10.0  # a frame is several pixels wide: half a frame shows
    ethogram.set_data(np.zeros((frames, 3), np.float32), ("a", "b", "c"), None, timebase=fps)
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(800, 200)
    timeline.set_extent(fps, frames)
    ethogram.set_playhead(20)
    timeline.set_playhead(20)
    rect = ethogram.image_rect()
    pixels_per_frame = rect.width() / frames
    assert pixels_per_frame > 6
    for widget, shift, y in ((ethogram.rows, 0, ethogram.row_height // 2), (ethogram.header, ethogram.names_width, 1)):
        image = widget.grab().toImage()
        white = [x for x in range(rect.left() - shift, image.width()) if image.pixelColor(x, y).lightness() > 230]
        assert white, widget
        seconds = (np.mean(white) + shift - rect.left()) / pixels_per_frame / fps  # as the time axis reads x
        assert seconds == pytest.approx(timeline.cursor.value(), abs=1.5 / pixels_per_frame / fps)


def test_a_curve_keeps_every_pixel_column_s_lowest_and_highest_value():
    """The timeline's curves are reduced to the plot's pixel columns before drawing
    (plots.envelope): checked against a loop over the columns, NaN gaps included."""
    from vivit_desktop.ui.plots import envelope

    rng = np.random.default_rng(3)
    y = rng.random((1000, 3))
    y[100:250] = np.nan  # not analysed yet
    y[600, 1] = 5.0  # one frame's peak
    x = np.arange(1000) / 30.0
    xs, ys = envelope(x, y, 64)
    assert len(xs) == 128 and ys.shape == (128, 3)
    bounds = np.linspace(0, 1000, 65).astype(int)
    for c in range(64):
        part = y[bounds[c]:bounds[c + 1]]
        low, high = ys[2 * c], ys[2 * c + 1]
        if np.isnan(part).all():
            assert np.isnan(low).all() and np.isnan(high).all()
        else:
            np.testing.assert_array_equal(low, np.nanmin(part, axis=0))
            np.testing.assert_array_equal(high, np.nanmax(part, axis=0))
        assert xs[2 * c] == x[bounds[c]] and xs[2 * c + 1] == x[bounds[c + 1] - 1]
    assert np.nanmax(ys[:, 1]) == 5.0
    short_x, short_y = envelope(x[:100], y[:100], 64)  # no more than two frames a column: as it is
    assert short_y is y[:100] or np.array_equal(short_y, y[:100], equal_nan=True)


def test_the_timeline_labels_its_probability_axis_where_its_grid_lines_are(qtbot):
    """The grid lines were at 0.25, 0.5, 0.75 while the axis labelled 0.2, 0.4, ... between them."""
    import pyqtgraph as pg

    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(600, 300)
    timeline.show()
    item = timeline.getPlotItem()
    grid = sorted(i.value() for i in item.items if isinstance(i, pg.InfiniteLine) and i.angle == 0 and not i.movable)
    assert len(grid) == 3
    levels = item.getAxis("left")._tickLevels  # the ticks drawn (None: pyqtgraph's own, every 0.2 here)
    labelled = [value for level in levels or [] for value, _ in level]
    assert set(grid) <= set(labelled) and set(labelled) <= {0.0, 1.0, *grid}
    timeline.resize(600, 90)  # a plot of 800x600's height: half the labels, still on grid lines
    qtbot.wait(50)
    labelled = [value for level in item.getAxis("left")._tickLevels for value, _ in level]
    assert labelled == [0.0, 0.5, 1.0]


def test_the_timeline_s_legend_has_a_strip_of_its_own_above_the_curves(qtbot):
    """The legend sat on the curves near 1 (and on the threshold's label) in a small window."""
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(700, 180)
    timeline.show()
    probs = np.full((300, 6), 0.02, np.float32)
    probs[:, 0] = 0.98  # a confident class: its curve runs along the top
    timeline.set_probs(probs, ("static", "pan left", "pan right", "zoom in", "zoom out", "shake"), classes=[0, 1, 2, 3])
    qtbot.wait(50)
    view = timeline.getPlotItem().vb
    assert timeline.legend.isVisible()
    bottom = timeline.legend.mapToParent(timeline.legend.boundingRect().bottomLeft())
    assert view.mapToView(bottom).y() >= 1.0  # the legend's lower edge is above probability 1
    assert view.viewRange()[1][0] <= 0.0  # and 0 is still in view


def test_the_attention_track_labels_round_values(qtbot):
    """Its axis read 0, 0.175, 0.35: labels now fall on round steps below the top."""
    track = AttentionTrack()
    qtbot.addWidget(track)
    track.resize(600, 200)
    track.show()
    track.set_values(np.r_[np.full(50, 0.06), 0.33, np.full(50, 0.06)])
    qtbot.wait(50)
    labels = [text for level in track.getPlotItem().getAxis("left")._tickLevels for _, text in level]
    assert labels == ["0", "0.1", "0.2", "0.3"]
