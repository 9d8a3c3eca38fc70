"""Models ▸ Get models…, as a user would drive it (pytest-qt, offscreen): open the catalogue from
the menu, pick a model, click Download, watch it install in the background and appear in the
Models menu under its family; a cancelled and a failed get install nothing."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings, Qt  # noqa: E402

from vivit_desktop import zoo  # noqa: E402
from vivit_desktop.ui.main_window import MainWindow  # noqa: E402

from test_zoo import FE, FE_PATH, Server, checkpoint  # noqa: E402,F401  (checkpoint: a fixture)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, server):
    monkeypatch.setenv("VIVIT_DESKTOP_MODELS", str(tmp_path / "user-models"))
    monkeypatch.setenv(zoo.MIRROR_ENV, server.url + "/mirror")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(settings=settings, show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def menu_action(menu, text):
    return next(a for a in menu.actions() if a.text() == text)


def open_catalogue(w, qtbot):
    w.models_menu.aboutToShow.emit()  # what showing the Models menu does (aboutToShow)
    menu_action(w.models_menu, "Get models…").trigger()
    dialog = w.model_dialogs.zoo
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def pick(dialog, name):
    row = next(i for i, e in enumerate(dialog.entries) if e.name == name)
    dialog.table.selectRow(row)
    assert dialog.selected().name == name


def test_get_a_model_from_the_menu_and_switch_to_it(window, qtbot, server, checkpoint):
    w = window
    server.serve(FE_PATH, checkpoint[0], delay=0.0005)
    dialog = open_catalogue(w, qtbot)
    assert dialog.table.rowCount() == len(zoo.catalogue())
    assert [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())] == [e.name for e in zoo.catalogue()]
    pick(dialog, FE)
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isEnabled()
    progress = []
    with qtbot.waitSignal(dialog.installed, timeout=15000) as blocker:
        qtbot.mouseClick(dialog.download_button, Qt.LeftButton)
        assert dialog.busy and dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()
        assert dialog.worker is not None and dialog.worker.isRunning()  # the GUI thread is free meanwhile
        dialog.worker.progressed.connect(lambda done, total: progress.append((done, total)))
    name, path = blocker.args
    assert name == FE and path.endswith(f"{FE}.safetensors")
    assert progress and progress[-1][0] == progress[-1][1] == len(checkpoint[0])
    qtbot.waitUntil(lambda: not dialog.busy)
    assert "Installed" in dialog.status.text() and dialog.table.item(1, 6).text() == "installed"
    assert dialog.download_button.text() == "Download and install again"

    # the Models menu lists it under its family; choosing it makes that family's variants the switch
    w.models_menu.aboutToShow.emit()
    family = menu_action(w.models_menu, "Kinetics-400").menu()
    entry = next(a for a in family.actions() if FE in a.text())
    assert entry.text().startswith("Model 2: factorised encoder") and "78.4" in entry.text()
    entry.trigger()
    assert w.workspace.model_spec == path
    w.models_menu.aboutToShow.emit()
    texts = [a.text() for a in w.models_menu.actions()]
    assert "Variants of Kinetics-400" in texts
    switch = next(a for a in w.models_menu.actions() if FE in a.text())
    assert switch.isCheckable() and switch.isChecked()
    submenus = [a.menu() for a in w.models_menu.actions() if a.menu() and a.text() != "Compare with"]
    assert not any(FE in b.text() for sub in submenus for b in sub.actions())  # listed once, at the top


def test_cancel_installs_nothing(window, qtbot, server, checkpoint, tmp_path):
    w = window
    route = server.serve(FE_PATH, checkpoint[0], delay=0.05)  # slow: about 10 s in all
    dialog = open_catalogue(w, qtbot)
    pick(dialog, FE)
    qtbot.mouseClick(dialog.download_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress.maximum() == 1000 and dialog.progress.value() >= 0, timeout=5000)
    with qtbot.waitSignal(dialog.cancelled, timeout=10000):
        qtbot.mouseClick(dialog.cancel_button, Qt.LeftButton)
    # the thread's `finished` reaches the buttons through the event loop, a moment after it stops
    qtbot.waitUntil(lambda: not dialog.busy and dialog.download_button.isEnabled())
    assert "nothing was installed" in dialog.status.text()
    assert zoo.installed_path(zoo.entry(FE)) is None
    assert not (tmp_path / "user-models").exists() or not list((tmp_path / "user-models").iterdir())
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isEnabled()
    route.delay = 0


def test_a_failed_get_shows_the_error_in_the_dialog(window, qtbot, server):
    dialog = open_catalogue(window, qtbot)
    pick(dialog, FE)  # nothing served: 404
    with qtbot.waitSignal(dialog.failed, timeout=10000) as blocker:
        qtbot.mouseClick(dialog.download_button, Qt.LeftButton)
    assert "HTTP 404" in blocker.args[0]
    qtbot.waitUntil(lambda: not dialog.busy)
    assert "HTTP 404" in dialog.status.text() and "Could not get" in dialog.status.text()
    assert zoo.installed_path(zoo.entry(FE)) is None


def test_closing_the_window_cancels_a_running_get(window, qtbot, server, checkpoint):
    server.serve(FE_PATH, checkpoint[0], delay=0.05)
    dialog = open_catalogue(window, qtbot)
    pick(dialog, FE)
    worker = dialog.start(FE)
    dialog.hide()  # Close hides the dialog; the get carries on
    assert worker.isRunning()
    window.shutdown()
    assert worker.isFinished() and zoo.installed_path(zoo.entry(FE)) is None
    assert threading.active_count() < 50
