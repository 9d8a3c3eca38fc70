"""Drawing a run's results into its plots: one function serves the window's 10 Hz refresh and the
plots export, so the PNG shows what the window shows."""

from __future__ import annotations

import numpy as np

from .. import catalog


def draw_run(tracks, run, workspace, classes=None) -> None:
    """A run's timeline and attention track (empty for None, or before its first window).
    `classes`: the class indices to draw as curves (None: the timeline's default choice)."""
    draw_timeline(tracks, run, workspace, classes)
    draw_attention_track(tracks, run)


def draw_timeline(tracks, run, workspace, classes=None, result=None) -> None:
    """The axis, the caption and the timeline's curves of a run (`draw_run`'s first half: the
    window draws the halves in separate passes of its event loop). `result`: the run's result
    to draw (one the window prepared on its worker thread); None: `run.result()`."""
    if run is None:  # nothing open: no data, no caption, no axis of the previous clip
        tracks.timeline.set_probs(None, ())
        tracks.caption.setText("")
        tracks.set_extent(30.0, 30)
        tracks.set_playhead(0)
        return
    result = result if result is not None else run.result()
    frames = max(run.frame_count, workspace.frame_total)
    live = workspace.is_live
    tracks.set_extent(run.request.fps if live else workspace.timebase,
                      (result.frame_count if result is not None else frames) if live else frames, run.frame_offset)
    origin = f"   ({run.origin})" if run.origin else "   (shipped)"
    tracks.caption.setText(f"{run.name} — {catalog.family_of(run.name)}{origin}" if run.card else
                           f"{run.name}: loading…")
    if result is None:
        tracks.timeline.set_probs(None, ())
        return
    probs = result.smoothed_probs()
    if classes is not None:
        classes = [k for k in classes if 0 <= k < probs.shape[1]]
    tracks.timeline.set_probs(probs, result.card.qualified_labels, classes)


def draw_attention_track(tracks, run, result=None) -> None:
    """A run's per-frame attention track (`draw_run`'s second half)."""
    result = result if result is not None else run.result() if run is not None else None
    tracks.attention.set_values(result.frame_attention() if result is not None else np.zeros(0))


def draw_window_attention(bars, workspace) -> None:
    window = workspace.prediction_at().window
    bars.set_window(window.frames if window else None, window.attention if window else None, workspace.playhead)
