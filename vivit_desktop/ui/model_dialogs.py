"""The Models menu's dialogs: Get models… (the catalogue), Import checkpoint…, Model card…, and
"what these labels mean" (from the card). `window` answers `workspace`, `error`, `ask`,
`message_box`, `set_model` and `statusBar()`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog


class ModelDialogs:
    def __init__(self, window) -> None:
        self.window = window
        self.zoo = None  # Models ▸ Get models…, made when first opened

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

    def import_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Import a Hugging Face ViViT checkpoint folder "
                                                      "(or cancel to pick a file)")
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.window, "Import a checkpoint: native, or scenic (JAX/Flax)", "",
                                                  "Checkpoints (*.safetensors *.json checkpoint checkpoint_*);;"
                                                  "All files (*)")
        if path:
            self.import_checkpoint(path)

    def import_checkpoint(self, path: str | Path) -> Path | None:
        """Copy a native checkpoint, or convert a Hugging Face or scenic one, into the user models
        folder and switch to it (the same import as `vivit-desktop import`)."""
        from ..model import save_model
        from ..model.foreign import checkpoint_kind, import_checkpoint
        from ..paths import user_models_dir

        path = Path(path)
        folder = user_models_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            name = path.stem if checkpoint_kind(path) == "native" else path.resolve().name
            model, note = import_checkpoint(path, name=name)
            target = folder / name
            if (folder / f"{name}.safetensors").exists():
                if not self.window.ask(f"{name} is already in your models folder. Replace it?"):
                    return None
            weights, _ = save_model(model, target, overwrite=True)
        except Exception as e:  # noqa: BLE001 - untrusted files: any failure is a message
            self.window.error("Cannot import this checkpoint", str(e))
            return None
        self.window.statusBar().showMessage(f"Imported {weights.name} into {folder}" + (f" ({note})" if note else ""), 8000)
        self.window.set_model(str(weights))
        return weights

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
        for key in ("heldout_accuracy", "cpu_window_ms", "training_minutes"):
            if key in evaluation:
                rows.append((key.replace("_", " "), f"{evaluation[key]:.1%}" if key == "heldout_accuracy"
                             else str(evaluation[key])))
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

    def shutdown(self, wait_ms: int) -> None:
        if self.zoo is not None:
            self.zoo.shutdown(wait_ms)


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
