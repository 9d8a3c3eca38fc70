"""Models ▸ Get models…: the catalogue of published ViViT models (vivit_desktop.zoo) as a table;
a get (download, convert, install) runs on a worker thread with a progress bar and Cancel, and
errors show in the dialog. Closing the dialog hides it: a running get carries on and the dialog
shows it again when reopened. The worker never touches a widget; it emits."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout)

from .. import zoo
from ..cancel import CancelToken, Cancelled

log = logging.getLogger(__name__)

COLUMNS = ("Name", "Model", "Dataset", "Top-1 (published)", "Size", "Licence", "")


class GetWorker(QThread):
    """Runs `zoo.install` for one entry. Signals carry plain values; `cancel()` cancels the token
    the download checks at every block."""

    progressed = Signal(object, object)  # bytes done, total bytes or None (may exceed 2**31)
    staged = Signal(str)  # "downloading …", "converting", "saving"
    succeeded = Signal(str)  # the installed weights' path
    failed = Signal(str)  # one line
    was_cancelled = Signal()

    def __init__(self, entry: zoo.ZooEntry, force: bool, parent=None) -> None:
        super().__init__(parent)
        self.entry, self.force = entry, force
        self.token = CancelToken()

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:
        last = 0.0

        def progress(done: int, total: int | None) -> None:  # at most 20 updates a second, and the last
            nonlocal last
            now = time.monotonic()
            if now - last >= 0.05 or done == total:
                last = now
                self.progressed.emit(done, total)

        try:
            weights = zoo.install(self.entry, force=self.force, cancel=self.token, progress=progress,
                                  stage=self.staged.emit)
        except Cancelled:
            self.was_cancelled.emit()
        except Exception as e:  # noqa: BLE001 - a download or a foreign file: any failure is a message
            log.info("get %s failed", self.entry.name, exc_info=True)
            self.failed.emit(str(e).splitlines()[0] if str(e) else type(e).__name__)
        else:
            self.succeeded.emit(str(weights))


class ZooDialog(QDialog):
    """The catalogue. `installed(name, weights)` after a successful get, `failed(message)`,
    `cancelled()`; `start(name)` is what the Download button does."""

    installed = Signal(str, str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Get models")
        self.entries = zoo.catalogue()
        self.worker: GetWorker | None = None

        self.table = QTableWidget(len(self.entries), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        header = self.table.horizontalHeader()
        for i in range(len(COLUMNS)):
            header.setSectionResizeMode(i, QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda index: self.start(self.entries[index.row()].name))

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()

        self.download_button = QPushButton("Download and install")
        self.download_button.clicked.connect(self._download_clicked)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        close = QPushButton("Close")
        close.clicked.connect(self.hide)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(980, 460)
        self.refresh()
        self.table.selectRow(0)

    # -- the table -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Fill the table, marking what is installed."""
        for row, e in enumerate(self.entries):
            values = (e.name, f"{e.title}, {e.model_title.split(':')[0]}", e.dataset, e.top1_text, e.size_text,
                      e.licence_short, "installed" if zoo.installed_path(e) else "")
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(f"{e.description}\n{e.url}\nLicence: {e.licence}")
                self.table.setItem(row, column, item)
        self._update_buttons()

    def selected(self) -> zoo.ZooEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def _update_buttons(self) -> None:
        e = self.selected()
        busy = self.busy
        if e is not None:
            self.details.setText(f"<b>{e.name}</b>: {e.description} Size {e.size_text} (estimated). "
                                 f"Licence: {e.licence}. Source: <a href='{e.url}'>{e.url}</a>")
            self.details.setOpenExternalLinks(True)
        installed = e is not None and zoo.installed_path(e) is not None
        self.download_button.setText("Download and install again" if installed else "Download and install")
        self.download_button.setEnabled(e is not None and not busy)
        self.cancel_button.setEnabled(busy)

    @property
    def busy(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    # -- a get -----------------------------------------------------------------------------------
    def _download_clicked(self) -> None:
        e = self.selected()
        if e is not None:
            self.start(e.name)

    def start(self, name: str) -> GetWorker | None:
        """Get catalogue entry `name` in the background (again, if it is installed)."""
        if self.busy:
            self._say("A download is running; wait for it, or cancel it.", error=True)
            return None
        e = zoo.entry(name)
        worker = GetWorker(e, force=zoo.installed_path(e) is not None, parent=self)
        worker.progressed.connect(self._progressed)
        worker.staged.connect(lambda text: self._say(f"{e.name}: {text}"))
        worker.succeeded.connect(lambda path: self._succeeded(e.name, path))
        worker.failed.connect(lambda message: self._failed(e.name, message))
        worker.was_cancelled.connect(lambda: self._cancelled(e.name))
        worker.finished.connect(self._update_buttons)
        self.worker = worker
        self.progress.setRange(0, 0)  # busy until the size is known
        self.progress.setFormat("")
        self.progress.show()
        worker.start()
        self._update_buttons()
        return worker

    def cancel(self) -> None:
        if self.busy:
            self.worker.cancel()
            self._say("Cancelling…")

    def _progressed(self, done: int, total: int | None) -> None:
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, int(1000 * done / total)))
            self.progress.setFormat(f"%p%   {done / 1e6:,.1f} of {total / 1e6:,.1f} MB")
        else:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"{done / 1e6:,.1f} MB")

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #c62828;" if error else "")
        self.status.setText(text)

    def _succeeded(self, name: str, path: str) -> None:
        self.progress.hide()
        self._say(f"Installed {name}: {path}. Choose it in the Models menu.")
        self.refresh()
        self.installed.emit(name, path)

    def _failed(self, name: str, message: str) -> None:
        self.progress.hide()
        self._say(f"Could not get {name}: {message}", error=True)
        self.failed.emit(message)

    def _cancelled(self, name: str) -> None:
        self.progress.hide()
        self._say(f"Cancelled {name}: nothing was installed. What was downloaded is kept, and the next download "
                  "resumes it.")
        self.cancelled.emit()

    def shutdown(self, wait_ms: int = 15000) -> None:
        """Cancel a running get and wait for its thread (the window calls this when it closes)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(wait_ms)
