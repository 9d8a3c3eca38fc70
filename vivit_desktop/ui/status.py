"""The status bar: model, device, latency, prediction state, display rate, dropped live windows,
GPU memory and the analysis progress, drawn from the workspace at 10 Hz."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from .workspace import STALE_S, Workspace

FIELDS = (("model", "The model whose results are shown"), ("device", "Inference device"),
          ("latency", "Inference time per window"), ("state", "Prediction state"),
          ("frame", "The frame shown (numbered from 0, as in the exports)"),
          ("fps", "Displayed frames per second"), ("dropped", "Live windows replaced before they ran (latest wins)"),
          ("gpu", "GPU memory in use"))


class StatusPanel:
    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.labels: dict[str, QLabel] = {}
        for key, tip in FIELDS:
            label = QLabel("")
            label.setToolTip(tip)
            label.setMinimumWidth(8)  # (not its text's width: a long model name kept 800x600 windows from fitting)
            bar.addPermanentWidget(label)
            self.labels[key] = label
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setFormat("analysed %p%")
        self.progress.hide()
        bar.addPermanentWidget(self.progress)

    def set_progress(self, done: int, total: int, complete: bool) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setVisible(not complete)

    def state_text(self, workspace: Workspace) -> str:
        run = workspace.primary
        if not workspace.ready:
            return "loading the engine…" if not workspace.engine_error else "engine failed to load"
        shown = workspace.prediction_at()
        if workspace.outage_s():
            return f"no frames for {workspace.outage_s():.0f} s (a stream reconnects for up to 30 s)"
        if run is not None and workspace.is_live and shown.window is not None:
            age = time.perf_counter() - run.live.arrived
            return f"stale ({age:.1f} s old)" if age > STALE_S else f"live, {age * 1000:.0f} ms old"
        if shown.state == "short clip":
            return "short clip: shorter than the model's window"
        if run is not None and run.complete:
            return shown.state or ("analysed (earlier: from the cache)" if run.cached else "analysed")
        if run is not None and run.card is None:
            return "loading the model…"
        if run is not None and not shown.state:
            return "analysing ahead"
        if shown.state == "preparing" and workspace.analysed_to():
            return workspace.analysed_to()
        return shown.state

    def update(self, workspace: Workspace) -> None:
        run = workspace.primary
        labels = self.labels
        labels["model"].setText(f"Model: {run.title}" if run is not None else "Model: —")
        labels["model"].setToolTip(run.loaded.description if run is not None and run.loaded else "")
        predictor = run.device_info if run is not None else None
        labels["device"].setText(f"Device: {predictor.device}, {predictor.precision_used}" if predictor is not None
                                 else f"Device: {workspace.settings.device}")
        labels["device"].setToolTip(f"Inference device and precision: {predictor.precision_note}"
                                    if predictor is not None else "Inference device")
        latencies = [w.latency_s for w in run.windows[-20:]] if run is not None else []
        if run is not None and workspace.is_live and run.live.arrived:
            labels["latency"].setText(f"Latency: {run.live.latency_s * 1000:.0f} ms "
                                      f"(forward {run.live.compute_s * 1000:.0f} ms)")
        else:
            labels["latency"].setText(f"Per window: {np.mean(latencies) * 1000:.0f} ms" if latencies else "")
        labels["state"].setText(self.state_text(workspace))
        labels["frame"].setText(f"Frame {workspace.playhead}" if workspace.info is not None else "")
        labels["fps"].setText(f"Display: {workspace.display_fps():.1f} fps")
        labels["dropped"].setText(f"Dropped: {run.live.dropped}" if run is not None and workspace.is_live else "")
        labels["gpu"].setText(f"GPU: {predictor.gpu_mib:.0f} MiB" if predictor is not None and predictor.gpu_mib is not None
                              else "")
        if run is not None and run.complete:
            self.progress.hide()
