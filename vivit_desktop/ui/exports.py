"""File ▸ Export: predictions (CSV, JSON), the plots as a PNG drawn at a fixed size (not a grab of
whatever the window's size made of them), and the annotated video on a thread of its own. Every
write is atomic; a file is replaced only after the user said so, naming every file replaced."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QThread, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QVBoxLayout, QWidget

from .workspace import format_time

PLOT_SIZE = (1600, 900)  # the exported PNG, whatever the window's size


class ExportThread(QThread):
    """Writes the annotated video off the GUI thread; `cancel()` stops it at the next frame and
    the atomic write leaves nothing behind."""

    progressed = Signal(int)
    failed = Signal(str)
    written = Signal(str)

    def __init__(self, result, video: Path, target: Path, heatmap_opacity: float = 0.0, parent=None) -> None:
        from ..cancel import CancelToken

        super().__init__(parent)
        self.result, self.video, self.target = result, video, target
        self.heatmap_opacity = heatmap_opacity
        self.token = CancelToken()

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:
        from ..cancel import Cancelled
        from ..engine.annotate import write_annotated
        from ..engine.sources import open_source

        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            self.progressed.emit(done)

        try:
            with open_source(self.video) as source:
                write_annotated(self.result, source, self.target, overwrite=True, progress=tick, cancel=self.token,
                                heatmap_opacity=self.heatmap_opacity)
            self.written.emit(str(self.target))
        except Cancelled:
            pass
        except Exception as e:  # noqa: BLE001 - said in a dialog; the window keeps running
            self.failed.emit(f"cannot write {self.target}: {e}")


class Exports:
    """The export commands of a window (`window.error`, `window.ask`, `window.statusBar()`)."""

    def __init__(self, window) -> None:
        self.window = window
        self.thread: ExportThread | None = None
        self.last_written: list[Path] = []  # what the last export wrote

    @property
    def workspace(self):
        return self.window.workspace

    def _result_or_warn(self, asked: bool = False):
        """The primary run's result to export, or None (nothing yet, or the user would rather
        wait for an analysis still running than export part of the video; `asked`: that was
        asked already, before the save dialog)."""
        ws = self.workspace
        run = ws.primary
        result = run.result() if run is not None else None
        if result is None:
            self.window.error("Nothing to export", "No predictions yet: open a video and let the analysis run.")
        elif not asked and not run.complete and not ws.is_live and not self.window.ask(
                f"The analysis is still running ({ws.analysed_to() or 'just started'} of "
                f"{format_time(ws.duration())}): frames after that have no predictions yet. "
                "Export what is done so far?"):
            return None
        return result

    def _wrote(self, paths: list[Path]) -> None:
        """Say what was written and where (the status bar, 15 s; short enough to be read beside
        its permanent fields, the whole list in its tooltip)."""
        self.last_written = list(paths)
        if paths:
            folder = str(paths[0].parent)
            home = str(Path.home())
            folder = "~" + folder[len(home):] if folder.startswith(home + "/") or folder == home else folder
            what = paths[0].name if len(paths) == 1 else f"{paths[0].name} and {len(paths) - 1} more"
            bar = self.window.statusBar()
            bar.showMessage(f"Wrote {what} in {folder}", 15000)
            bar.setToolTip("Wrote " + ", ".join(str(p) for p in paths))

    def _suggestion(self, suffix: str) -> str:
        """The last export folder, else the video's; the video's name."""
        info = self.workspace.info
        stem = Path(info.path).stem if info and info.path else "live"
        folder = self.workspace.settings.export_dir or (str(Path(info.path).parent) if info and info.path
                                                        else str(Path.home()))
        return str(Path(folder) / f"{stem}{suffix}")

    def _save_name(self, title: str, suffix: str, pattern: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.window, title, self._suggestion(suffix), pattern)  # asks to overwrite
        if not path:
            return None
        self.workspace.settings.set(export_dir=str(Path(path).parent))
        return Path(path)

    def predictions(self, kind: str, path: str | Path | None = None) -> list[Path]:
        result = self._result_or_warn()
        if result is None:
            return []
        if path is None:
            path = self._save_name(f"Export predictions ({kind.upper()})", f".{kind}", f"{kind.upper()} (*.{kind})")
            if path is None:
                return []
        path = Path(path)
        if kind == "csv":  # the save dialog asked about FILE.csv; the set has two more files
            companions = [p for p in (path.with_suffix(".windows.csv"), path.with_suffix(".segments.csv")) if p.exists()]
            if companions and not self.window.ask(f"{' and '.join(p.name for p in companions)} exist too; the CSV "
                                                  f"export replaces them with {path.name}. Replace all?"):
                return []
        try:
            written = (result.write_csv if kind == "csv" else result.write_json)(path, overwrite=True)
        except (OSError, ValueError) as e:
            self.window.error("Export failed", str(e))
            return []
        self._wrote(written)
        return written

    def plots_dialog(self) -> None:
        path = self._save_name("Export plots", ".plots.png", "PNG image (*.png)")
        if path:
            self.plots(path)

    def render_plots(self):
        """The tracks of every run and the shown window's attention bars, drawn afresh at
        PLOT_SIZE (so labels are never clipped by a small window) -> QImage."""
        from .drawing import draw_run, draw_window_attention
        from .plots import RunTracks, WindowAttention

        page = QWidget()
        layout = QVBoxLayout(page)
        runs = self.workspace.runs or [None]
        for run in runs:
            tracks = RunTracks()
            layout.addWidget(tracks, 3)
            draw_run(tracks, run, self.workspace)
            tracks.set_playhead(self.workspace.playhead)
        bars = WindowAttention()
        layout.addWidget(bars, 2)
        draw_window_attention(bars, self.workspace)
        page.resize(PLOT_SIZE[0], PLOT_SIZE[1] * len(runs) // max(1, min(2, len(runs))))
        page.setAttribute(Qt.WA_DontShowOnScreen)
        page.show()  # laid out and polished offscreen, never on screen
        layout.activate()
        image = page.grab().toImage()
        page.close()
        page.deleteLater()
        return image

    def plots(self, path: str | Path) -> Path | None:
        from ..fileio import atomic_path

        path = Path(path)
        if self.workspace.primary is None:
            self.window.error("Nothing to export", "No plots yet: open a video and let the analysis run.")
            return None
        image = self.render_plots()
        try:
            with atomic_path(path, overwrite=True) as tmp:
                if not image.save(str(tmp), "PNG"):
                    raise OSError(f"cannot write {path}")
        except OSError as e:
            self.window.error("Export failed", str(e))
            return None
        self._wrote([path])
        return path

    def annotated_dialog(self) -> None:
        info = self.workspace.info
        if info is None or info.live:
            self.window.error("Cannot export", "An annotated video is made from a file; open a video file first.")
            return
        if self._result_or_warn() is None:  # asked here, before the save dialog, as the other exports do
            return
        path = self._save_name("Export annotated video", ".annotated.mp4", "MP4 video (*.mp4)")
        if path:
            self.annotated(path, asked=True)

    def annotated(self, path: str | Path, wait: bool = False, asked: bool = False) -> ExportThread | None:
        result = self._result_or_warn(asked)
        info = self.workspace.info
        if result is None or info is None or info.path is None:
            return None
        if self.running:
            self.window.error("Export running", "Wait for the running export to finish, or cancel it.")
            return None
        settings = self.workspace.settings
        thread = ExportThread(result, info.path, Path(path),
                              heatmap_opacity=settings.heatmap_opacity if settings.heatmap else 0.0)
        dialog = QProgressDialog("Writing the annotated video…", "Cancel", 0, max(1, result.frame_count), self.window)
        dialog.setWindowTitle("Export")
        dialog.setMinimumDuration(300)
        thread.progressed.connect(dialog.setValue)
        thread.failed.connect(lambda message: self.window.error("Export failed", message))
        thread.written.connect(self._annotated_written)
        thread.finished.connect(dialog.close)
        dialog.canceled.connect(thread.cancel)
        self.thread = thread
        thread.start()
        if wait:
            thread.wait()
        return thread

    def _annotated_written(self, path) -> None:
        """A long export has finished, perhaps while the user was away: say so in a dialog that
        can open its folder, as well as in the status bar."""
        path = Path(path)
        self._wrote([path])
        if not self.window.show_dialogs:
            return
        box = QMessageBox(QMessageBox.Information, "Export finished", f"The annotated video is written:\n{path}",
                          QMessageBox.Ok, self.window)
        show = box.addButton("Show in folder", QMessageBox.ActionRole)
        box.exec()
        if box.clickedButton() is show and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))):
            self.window.error("Cannot show the folder", f"No file manager opened {path.parent}; the video is there.")

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def cancel(self, wait_ms: int) -> bool:
        if self.thread is None:
            return True
        self.thread.cancel()
        return self.thread.wait(wait_ms)
