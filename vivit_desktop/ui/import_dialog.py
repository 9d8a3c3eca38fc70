"""Models ▸ Import checkpoint…: a native, Hugging Face or scenic (JAX/Flax) checkpoint into the user
models folder, converted on a thread of its own (an official ViViT-L is gigabytes: seconds to
minutes), with what the file cannot say chosen in the dialog: the class names (a shipped set or a
text file, for any kind: a fine-tune's config often names its classes LABEL_0 ..) and, for scenic,
the variant, frames and size. The same import as `vivit-desktop import`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

SHIPPED_LABELS = (("kinetics400", "Kinetics-400"), ("kinetics600", "Kinetics-600"),
                  ("epic-kitchens-100", "Epic-Kitchens-100 (verbs and nouns)"))
VARIANTS = (("", "as its parameter names say"), ("st", "Model 1: spatio-temporal"),
            ("fe", "Model 2: factorised encoder"), ("fsa", "Model 3: factorised self-attention"),
            ("fdp", "Model 4: factorised dot-product (say so: its names are a Model 1's)"))
KINDS = {"native": "a checkpoint of this program (NAME.safetensors with NAME.json)",
         "huggingface": "a Hugging Face ViViT folder (config.json and the weights)",
         "scenic": "a scenic (JAX/Flax) checkpoint, as Google's official weights are"}


def target_name(path: Path) -> str:
    """The imported model's name: a native checkpoint keeps its own, others take the file's or folder's."""
    from ..model.foreign import checkpoint_kind

    return path.stem if checkpoint_kind(path) == "native" else path.resolve().name


class ImportThread(QThread):
    """Converts and writes the checkpoint; `imported(weights, note)` or `failed(message)`."""

    imported = Signal(str, str)
    failed = Signal(str)

    def __init__(self, path: Path, options, folder: Path, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("vivit-import")
        self.path, self.options, self.folder = path, options, folder

    def run(self) -> None:
        from ..model import save_model
        from ..model.foreign import import_checkpoint

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = target_name(self.path)
            model, note = import_checkpoint(self.path, self.options, name=name)
            weights, _ = save_model(model, self.folder / name, overwrite=True)  # replacing was asked before
        except Exception as e:  # noqa: BLE001 - untrusted files: any failure is a message
            self.failed.emit(str(e))
            return
        self.imported.emit(str(weights), note)


class ImportDialog(QDialog):
    """Pick the checkpoint and what it cannot say; Import runs `ImportThread`. Not modal: the
    window plays on, and closing the dialog while it imports lets the import finish."""

    def __init__(self, dialogs, parent=None) -> None:
        super().__init__(parent)
        self.dialogs = dialogs
        self.setWindowTitle("Import checkpoint")
        self.path = QLineEdit()
        self.path.setPlaceholderText("a file or a folder")
        self.path.setMinimumWidth(320)
        self.path.textChanged.connect(self._inspect)
        pick_file, pick_folder = QPushButton("File…"), QPushButton("Folder…")
        pick_file.clicked.connect(self._pick_file)
        pick_folder.clicked.connect(self._pick_folder)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(pick_file)
        row.addWidget(pick_folder)
        self.kind = QLabel("")
        self.kind.setWordWrap(True)
        self.labels = QComboBox()
        self.labels.addItem("The checkpoint's own (Google's official files: Kinetics or Epic-Kitchens, by their "
                            "number of classes)", None)
        for key, title in SHIPPED_LABELS:
            self.labels.addItem(title, key)
        self.labels.addItem("A text file, one label per line…", "file")
        self.labels.activated.connect(self._labels_chosen)
        self.labels_file: str | None = None
        form = QFormLayout()
        form.addRow("Checkpoint", self._wrap(row))
        form.addRow("", self.kind)
        form.addRow("Class names", self.labels)
        self.scenic = QGroupBox("Google's official (scenic) files only: what the file itself does not record")
        scenic = QFormLayout(self.scenic)
        self.variant = QComboBox()
        for key, title in VARIANTS:
            self.variant.addItem(title, key)
        self.frames = QSpinBox()
        self.frames.setRange(0, 512)
        self.frames.setSpecialValueText("32 (the official models')")
        self.size = QSpinBox()
        self.size.setRange(0, 1024)
        self.size.setSpecialValueText("224 (the official models')")
        scenic.addRow("Variant", self.variant)
        scenic.addRow("Input frames", self.frames)
        scenic.addRow("Input size (px)", self.size)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the conversion gives no steps
        self.progress.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.AcceptRole)
        self.import_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.hide)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.scenic)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)
        self._inspect("")

    @staticmethod
    def _wrap(layout) -> QWidget:
        widget = QWidget()
        layout.setContentsMargins(0, 0, 0, 0)
        widget.setLayout(layout)
        return widget

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A checkpoint: native, or scenic (JAX/Flax)", "",
                                              "Checkpoints (*.safetensors *.json checkpoint checkpoint_*);;All files (*)")
        if path:
            self.path.setText(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A Hugging Face ViViT folder, or a folder of scenic checkpoints")
        if path:
            self.path.setText(path)

    def _labels_chosen(self, index: int) -> None:
        if self.labels.itemData(index) != "file":
            return
        # (choosing the file's entry again picks another file)
        path, _ = QFileDialog.getOpenFileName(self, "Class names: one per line, in the order of the outputs", "",
                                              "Text (*.txt);;All files (*)")
        if path:
            self.set_labels_file(path)
        else:
            self.labels.setCurrentIndex(0)

    def set_labels_file(self, path: str | Path) -> None:
        self.labels_file = str(path)
        try:
            count = sum(1 for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
                        if line.strip())
            what = f"{count} labels"
        except OSError as e:
            what = f"unreadable: {e.strerror}"
        self.labels.setCurrentIndex(self.labels.count() - 1)
        self.labels.setItemText(self.labels.count() - 1, f"{Path(path).name} ({what}; choose again for another file)")

    def _inspect(self, text: str) -> None:
        """Say what the path is, and offer the scenic options only for a scenic checkpoint."""
        from ..model.foreign import checkpoint_kind

        kind = None
        if text.strip():
            try:
                kind = checkpoint_kind(Path(text.strip()))
                self.kind.setText(KINDS[kind])
            except Exception as e:  # noqa: BLE001 - what is wrong with the path, said beside it
                self.kind.setText(str(e))
        else:
            self.kind.setText("Choose a file or a folder.")
        self.scenic.setEnabled(kind == "scenic")
        self.import_button.setEnabled(kind is not None and not self.dialogs.importing)

    def options(self):
        from ..model.foreign import ScenicOptions

        labels = self.labels.currentData()
        labels = self.labels_file if labels == "file" else labels
        if not self.scenic.isEnabled():
            return ScenicOptions(labels=labels)
        return ScenicOptions(self.frames.value() or None, self.size.value() or None, None,
                             self.variant.currentData() or None, labels)

    def start(self) -> None:
        if self.dialogs.import_checkpoint(self.path.text().strip(), self.options()) is not None:
            self.set_busy(True)

    def set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.import_button.setEnabled(not busy and bool(self.path.text().strip()))
        self.import_button.setText("Importing…" if busy else "Import")
