"""The Models menu, rebuilt each time it opens from what is installed: the current model's family
first (its variants in the paper's order, Model 1 to 4), other families and the user's own
models as submenus, Compare with (every model but the current one), then the catalogue, import,
the card, and the device, precision and hop choices."""

from __future__ import annotations

from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMenu

from .. import catalog
from .settings import DEVICES, HOPS, PRECISIONS

YOURS = "Your models"


def _order(entry) -> tuple:
    from ..model.config import VARIANT_TITLES

    variants = list(VARIANT_TITLES)
    variant = entry.card.variant
    return (variants.index(variant) if variant in variants else len(variants), entry.name)


def groups(entries) -> dict[str, list]:
    """Family -> its entries in the paper's order: a catalogue family (on the card of a model from
    Get models…), a shipped model's name without its variant code, or "Your models"."""
    from .. import zoo

    out: dict[str, list] = {}
    for entry in entries:
        family = zoo.family_of_card(entry.card) or (catalog.family_of(entry.name) if entry.shipped else YOURS)
        out.setdefault(family, []).append(entry)
    return {family: sorted(members, key=_order) for family, members in out.items()}


def model_title(entry) -> str:
    """How the menus name a model: its variant, its name and how accurate it is ("Model 2:
    factorised encoder — camera-motion-fe (held-out 81%)"); Compare with lists the same."""
    from ..model.config import VARIANT_TITLES

    evaluation = entry.card.evaluation or {}
    accuracy, published = evaluation.get("heldout_accuracy"), evaluation.get("published_top1")
    figure = (f" (held-out {accuracy:.0%})" if accuracy is not None else
              f" (top-1 {published:g}%, published)" if published is not None else "")
    title = VARIANT_TITLES.get(entry.card.variant, entry.card.variant)
    # an imported copy of a shipped model has its name: "yours" tells them apart
    return f"{title} — {entry.name}{figure}" + ("" if entry.shipped else " (yours)")


class ModelsMenu:
    """Fills `menu` when it is about to show. `window` answers `workspace` and `model_dialogs`."""

    def __init__(self, menu: QMenu, window) -> None:
        self.menu = menu
        self.window = window
        menu.aboutToShow.connect(self.fill)

    def current_entry(self, entries):
        workspace = self.window.workspace
        run = workspace.primary
        loaded = run.loaded.description if run is not None and run.loaded else None
        spec = workspace.model_spec or catalog.default_model_name() or ""
        for entry in entries:
            if loaded is not None and str(entry.path) == loaded:
                return entry
        return next((e for e in entries if spec in (e.name, str(e.path))), None)

    def fill(self) -> None:
        menu, workspace = self.menu, self.window.workspace
        menu.clear()
        if not workspace.ready:
            menu.addAction(workspace.engine_error and "The engine failed to load: see Help ▸ About"
                           or "Loading the engine…").setEnabled(False)
            return
        from ..engine.remote import processes

        entries = [e for e in catalog.checkpoints() if e.usable]
        current = self.current_entry(entries)
        families = groups(entries)
        first = next((f for f, members in families.items() if current in members), None)
        group = QActionGroup(menu)

        def model_action(target: QMenu, entry):
            action = target.addAction(model_title(entry))
            action.setCheckable(True)
            action.setChecked(entry is current)
            action.setToolTip(str(entry.path))
            action.triggered.connect(lambda checked=False, p=str(entry.path): workspace.set_model(p))
            group.addAction(action)
            return action

        if first is not None:
            menu.addSection(first if first == YOURS else f"Variants of {first}")
            for entry in families[first]:
                model_action(menu, entry)
        for family in sorted(f for f in families if f != first):
            sub = menu.addMenu(family)
            for entry in families[family]:
                model_action(sub, entry)
        if not any(not e.shipped for e in entries):
            mine = menu.addMenu(YOURS)
            mine.addAction("(none yet: Import checkpoint… or Get models…)").setEnabled(False)
        compare = menu.addMenu("Compare with")
        for entry in [e for members in groups(entries).values() for e in members]:  # as the menu above orders them
            if entry is current:
                continue  # comparing a model with itself draws the same tracks twice
            action = compare.addAction(model_title(entry))
            action.triggered.connect(lambda checked=False, p=str(entry.path): workspace.compare_with(p))
        compare.addSeparator()
        stop = compare.addAction("Stop comparing")
        stop.setEnabled(workspace.compare_spec is not None)
        stop.triggered.connect(lambda: workspace.compare_with(None))
        menu.addSeparator()
        menu.addAction("Get models…").triggered.connect(self.window.model_dialogs.open_zoo)
        menu.addAction("Import checkpoint…").triggered.connect(self.window.model_dialogs.import_dialog)
        menu.addAction("Model card…").triggered.connect(self.window.model_dialogs.show_card)
        menu.addSeparator()
        settings = workspace.settings
        for title, values, current_value, setter in (
                ("Device", DEVICES, settings.device, workspace.set_device),
                ("Precision", PRECISIONS, settings.precision, workspace.set_precision),
                # how often a new window (a new prediction) starts: fewer frames, finer and slower
                ("New prediction every", [(0, "As the model suggests (8 frames for the small models, 4–16 for "
                                              "ViViT-B and up)")]
                 + [(h, f"{h} frames" + (" (finest, slowest)" if h == HOPS[0] else " (coarsest, fastest)"
                                         if h == HOPS[-1] else "")) for h in HOPS],
                 settings.hop, workspace.set_hop)):
            sub = menu.addMenu(title)
            sub_group = QActionGroup(sub)
            for value, text in values:
                action = sub.addAction(text)
                action.setCheckable(True)
                action.setChecked(value == current_value)
                if value in ("cuda", "mps"):
                    available = processes.device_available(value)
                    action.setEnabled(available is not False)  # None: not known yet (the engine is starting)
                    if available is None:
                        action.setToolTip("Not checked yet: the analysis process is starting")
                action.triggered.connect(lambda checked=False, v=value, s=setter: s(v))
                sub_group.addAction(action)
