"""Post-processing of cached probabilities: smoothing, thresholds, hysteresis, minimum bout,
applied to a result without running the model again."""

import numpy as np
import pytest

from vivit_desktop.engine.postprocess import NONE, PostProcessing, frame_labels, segments, smooth
from vivit_desktop.engine.results import AnalysisResult, WindowResult
from vivit_desktop.model import create_model

LABELS = ("walk", "run", "sit")


def one_hot(sequence: str, p: float = 0.9) -> np.ndarray:
    """'wwwrr.s' -> (frames, 3) probabilities; '.' = a frame no window covered."""
    rows = []
    for ch in sequence:
        if ch == ".":
            rows.append([np.nan] * 3)
            continue
        row = np.full(3, (1 - p) / 2)
        row["wrs".index(ch)] = p
        rows.append(row)
    return np.array(rows)


def names(labels: np.ndarray) -> str:
    return "".join("-" if i == NONE else "wrs"[i] for i in labels)


def test_no_post_processing_is_the_argmax_and_uncovered_frames_have_no_label():
    probs = one_hot("wwr.s")
    assert names(frame_labels(probs, LABELS, PostProcessing())) == "wwr-s"


def test_hysteresis_needs_n_agreeing_frames_before_the_label_changes():
    probs = one_hot("wwwrwwrrrwww")
    post = PostProcessing(hysteresis=3)
    # a single 'r' flicker is ignored; 'rrr' switches on its third frame; 'www' switches back on its third
    assert names(frame_labels(probs, LABELS, post)) == "wwwwwwwwrrrw"


def test_per_class_thresholds_leave_unsure_frames_unlabelled():
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    post = PostProcessing(threshold=0.5, class_thresholds=(("run", 0.75),))
    assert names(frame_labels(probs, LABELS, post)) == "w-s"
    with pytest.raises(ValueError, match="unknown label.*jump"):
        frame_labels(probs, LABELS, PostProcessing(class_thresholds=(("jump", 0.5),)))


def test_moving_average_and_ema_smooth_each_covered_run():
    probs = one_hot("wwwwr.rrrr")
    mean = smooth(probs, PostProcessing(smoothing="mean", mean_frames=3))
    assert np.isnan(mean[5]).all() and not np.isnan(mean[4]).any()
    np.testing.assert_allclose(mean[3], probs[2:5].mean(axis=0))
    np.testing.assert_allclose(mean[4], probs[3:5].mean(axis=0))  # the run ends at the gap
    ema = smooth(probs, PostProcessing(smoothing="ema", ema_alpha=0.5))
    np.testing.assert_allclose(ema[4], 0.5 * probs[4] + 0.5 * probs[3])
    np.testing.assert_allclose(ema[6], probs[6])  # a new run starts fresh after the gap
    np.testing.assert_allclose(mean.sum(axis=1)[~np.isnan(mean[:, 0])], 1.0)
    # a lone 'r' among 'w's no longer wins once smoothed
    assert names(frame_labels(smooth(one_hot("wwwrwww"), PostProcessing(smoothing="mean", mean_frames=3)),
                              LABELS, PostProcessing())) == "wwwwwww"


def test_short_bouts_merge_into_their_longer_neighbour():
    labels = np.array(["wrs".index(c) for c in "wwwwwrrsssssss"])
    post = PostProcessing(min_bout_s=0.3)  # 3 frames at 10 fps: 'rr' goes into the longer 'sssssss'
    assert segments(labels, 10.0, post) == [(0, 4, 0), (5, 13, 2)]
    assert segments(labels, 10.0, PostProcessing()) == [(0, 4, 0), (5, 6, 1), (7, 13, 2)]


def test_on_a_variable_rate_video_a_bout_lasts_the_time_its_frames_are_shown():
    """A phone holds frames for longer when little moves: three frames shown for 3 s are a long
    bout, not 0.3 s at the nominal 10 fps (they were merged away as one)."""
    from vivit_desktop.engine.timebase import Timebase

    labels = np.array([0] * 10 + [1] * 3 + [0] * 10)
    times = np.r_[np.arange(10) * 0.1, 1.0 + np.arange(3) * 1.0, 4.0 + np.arange(10) * 0.1]
    post = PostProcessing(min_bout_s=1.0)
    assert segments(labels, Timebase.from_times(10.0, times), post) == [(0, 9, 0), (10, 12, 1), (13, 22, 0)]
    assert segments(labels, 10.0, post) == [(0, 22, 0)]  # at the nominal rate: 0.3 s, merged
    # and a constant-rate video is as before: frames at its rate
    assert segments(labels, Timebase.from_times(10.0, np.arange(23) * 0.1), post) == [(0, 22, 0)]


@pytest.mark.parametrize("bad, message", [
    ({"smoothing": "median"}, "unknown smoothing"), ({"ema_alpha": 0}, "alpha"), ({"threshold": 1.5}, "probability"),
    ({"hysteresis": 0}, "hysteresis"), ({"min_bout_s": -1}, "negative")])
def test_bad_settings_say_what_is_wrong(bad, message):
    with pytest.raises(ValueError, match=message):
        PostProcessing(**bad)


def test_smoothing_syntax():
    assert PostProcessing(**PostProcessing.parse_smoothing("ema:0.2")).ema_alpha == 0.2
    assert PostProcessing(**PostProcessing.parse_smoothing("mean:15")).mean_frames == 15
    with pytest.raises(ValueError, match="mean:FRAMES"):
        PostProcessing.parse_smoothing("gauss:3")


def test_a_result_changes_its_segments_without_running_the_model_again():
    card = create_model("vivit_t16x2_st", labels=list(LABELS), num_frames=2, image_size=32).card
    sequence = one_hot("wwwwwwwwwwrwwwwwwwwww")
    windows = [WindowResult(i, i, (i,), sequence[i], np.ones(1), 0.0) for i in range(len(sequence))]
    result = AnalysisResult("clip", 10.0, len(sequence), 0, None, card, 1, windows, 1.0)
    assert [s["label"] for s in result.segments()] == ["walk", "run", "walk"]
    result.post = PostProcessing(hysteresis=2)
    assert [s["label"] for s in result.segments()] == ["walk"]
    data = result.to_dict()
    assert data["settings"]["post"]["hysteresis"] == 2 and data["frames"][10]["label"] == "walk"


@pytest.mark.parametrize("heads", [None, (("verb", 3, 2), ("noun", 0, 3))])
def test_segment_confidence_is_the_mean_of_its_label_s_probability_over_its_frames(heads):
    """The segments' confidences, computed in one pass over all segments' frames, against a loop
    over the segments (the shown label's probability, the product of its heads' for a two-head
    model, averaged over the segment's frames that have one); frames no window covers included."""
    labels = ("onion", "pan", "knife", "cut", "wash")
    card = create_model("vivit_t16x2_st", labels=list(labels), num_frames=2, image_size=32).card
    if heads:
        card = card.replace(heads=heads)
    rng = np.random.default_rng(5)
    windows = []
    for i in range(0, 300, 2):
        if 120 <= i < 140:
            continue  # frames no window covers: no label there
        p = rng.dirichlet(np.full(len(labels), 0.3)).astype(np.float32)
        windows.append(WindowResult(len(windows), i, (i, i + 1), p, np.full(2, 0.5), 0.0))
    result = AnalysisResult("clip", 30.0, 300, 0, None, card, 2, windows, 1.0,
                            post=PostProcessing(smoothing="mean", mean_frames=5, threshold=0.2))
    found = result.segments()
    assert len(found) > 20
    probs = result.smoothed_probs()
    for s in found:
        code = next(c for c in set(result.frame_labels()[s["start_frame"]:s["end_frame"] + 1]) if c != NONE)
        assert result.label_name(code) == s["label"]
        expected = np.nanmean(result.label_confidence(probs[s["start_frame"]:s["end_frame"] + 1], code))
        assert s["confidence"] == pytest.approx(round(float(expected), 6), abs=1.5e-6)
