"""The Models menu's dialogs: Get models… (the catalogue), Import checkpoint…, Model card…, and
"what these labels mean" (from the card). `window` answers `workspace`, `error`, `ask`,
`message_box`, `set_model` and `statusBar()`."""

from __future__ import annotations

from pathlib import Path


class ModelDialogs:
    def __init__(self, window) -> None:
        self.window = window
        self.zoo = None  # Models ▸ Get models…, made when first opened
        self.importer = None  # Models ▸ Import checkpoint…, made when first opened
        self.import_thread = None
        self.last_imported: Path | None = None  # the weights the last import wrote

    def open_zoo(self):
        """Models ▸ Get models…: the catalogue; gets run in the background, and closing the
        dialog hides it (a running get carries on)."""
        from .zoo_dialog import ZooDialog

        if self.zoo is None:
            self.zoo = ZooDialog(self.window)
            self.zoo.installed.connect(
                lambda name, path: self.window.statusBar().showMessage(f"Installed {name}; it is in the Models menu", 10000))
        self.zoo.show()
        self.zoo.raise_()
        self.zoo.activateWindow()
        return self.zoo

    def import_dialog(self):
        """Models ▸ Import checkpoint…: the dialog (import_dialog.py); not modal."""
        from .import_dialog import ImportDialog

        if self.importer is None:
            self.importer = ImportDialog(self, self.window)
        self.importer.show()
        self.importer.raise_()
        self.importer.activateWindow()
        return self.importer

    @property
    def importing(self) -> bool:
        return self.import_thread is not None and self.import_thread.isRunning()

    def import_checkpoint(self, path: str | Path, options=None):
        """Start copying a native checkpoint, or converting a Hugging Face or scenic one, into the
        user models folder, on a thread; once it is written the window switches to it (the same
        import as `vivit-desktop import`). -> the ImportThread, or None when nothing was started
        (an import running, a path that is no checkpoint, or the user would not replace a model)."""
        from ..model.foreign import ScenicOptions
        from ..paths import user_models_dir
        from .import_dialog import ImportThread, target_name

        path, folder = Path(path), user_models_dir()
        if self.importing:
            self.window.error("Import running", "Wait for the running import to finish.")
            return None
        try:
            name = target_name(path)
        except Exception as e:  # noqa: BLE001 - untrusted input: any failure is a message
            self.window.error("Cannot import this checkpoint", str(e))
            return None
        if (folder / f"{name}.safetensors").exists() and not self.window.ask(
                f"{name} is already in your models folder. Replace it?"):
            return None
        thread = ImportThread(path, options or ScenicOptions(), folder, self.window)
        thread.imported.connect(self._imported)
        thread.failed.connect(self._import_failed)
        self.import_thread = thread
        self.window.statusBar().showMessage(f"Importing {path.name}…")
        thread.start()
        return thread

    def _imported(self, weights: str, note: str) -> None:
        weights = Path(weights)
        self.last_imported = weights
        if self.importer is not None:
            self.importer.set_busy(False)
            self.importer.hide()
        self.window.statusBar().showMessage(f"Imported {weights.name} into {weights.parent}"
                                            + (f" ({note})" if note else ""), 10000)
        self.window.set_model(str(weights))

    def _import_failed(self, message: str) -> None:
        if self.importer is not None:
            self.importer.set_busy(False)
        self.window.error("Cannot import this checkpoint", message)

    def _card_or_warn(self):
        run = self.window.workspace.primary
        if run is None or run.card is None:
            self.window.error("No model card", "No model is loaded yet: open a video first.")
            return None, None
        return run, run.card

    def show_card(self) -> None:
        run, card = self._card_or_warn()
        if card is None:
            return
        evaluation = getattr(card, "evaluation", None) or {}
        rows = [("Name", card.name), ("Variant", card.variant), ("Labels", labels_summary(card)),
                ("Input", f"{card.num_frames} frames, one every {card.frame_stride}"
                          + (f" at {card.fps:g} fps" if card.fps else " of the video's own") +
                          f", {card.image_size}×{card.image_size} px"),
                ("File", run.loaded.description)]
        for key, name, shown in CARD_FIGURES:
            if isinstance(evaluation.get(key), (int, float)):
                rows.append((name, shown(evaluation)))
        html = "<table>" + "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows) + "</table>"
        if getattr(card, "description", ""):
            html += f"<p>{card.description}</p>"
        self.card_html = html
        self.window.message_box(f"Model card: {card.name}", html, details=card.to_json())

    def show_labels_help(self) -> None:
        """"What these labels mean", from the model card: its description and every label."""
        run, card = self._card_or_warn()
        if card is None:
            return
        description = getattr(card, "description", "") or "The model card says nothing more about its labels."
        heads = "".join(f"<p><b>{head or 'Labels'}</b> ({b - a}): {', '.join(card.labels[a:b])}</p>"
                        for head, a, b in card.head_slices())
        self.labels_html = f"<p>{description}</p>{heads}"
        self.window.message_box(f"What the labels of {card.name} mean", self.labels_html)

    def shutdown(self, left) -> bool:
        """Cancel a download, wait for it and for an import while `left()` (ms) lasts; False
        when one still runs (the import is not cancellable: one conversion, written atomically)."""
        done = True
        if self.zoo is not None:
            self.zoo.shutdown(left())
            done = self.zoo.worker is None or not self.zoo.worker.isRunning()
        if self.import_thread is not None:
            done = self.import_thread.wait(left()) and done
        return done


# The card's figures the card dialog shows: (field, its name in words, the value with its unit)
CARD_FIGURES = (
    ("heldout_accuracy", "Held-out accuracy",
     lambda e: f"{e['heldout_accuracy']:.1%}" + (f" of {e['heldout_clips']} clips" if e.get("heldout_clips") else "")),
    ("cpu_window_ms", "CPU time per window",
     lambda e: f"{e['cpu_window_ms']:.1f} ms" + (f" ({e['cpu_threads']} threads, when it was trained)"
                                                  if e.get("cpu_threads") else "")),
    ("training_minutes", "Training time", lambda e: f"{e['training_minutes']:.0f} min"),
)


def labels_summary(card) -> str:
    return "; ".join(f"{head}: {', '.join(card.labels[a:b][:40])}{' …' if b - a > 40 else ''}" if head else
                     ", ".join(card.labels[:80]) + (" …" if len(card.labels) > 80 else "")
                     for head, a, b in card.head_slices())


def column_title(card) -> str:
    """The ranking's column: what the labels are ("camera motion" for the shipped models)."""
    text = f"{card.name} {getattr(card, 'description', '')}".lower()
    if "camera" in text and "motion" in text:
        return "camera motion"
    return "action" if len(card.labels) > 50 else "class"
