"""Every menu item and keyboard shortcut of the window, declared once as data. The window builds
its menus from this table (`build_menus`), and Help ▸ Keyboard shortcuts is generated from it,
so the list a user reads is the list that works."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu


@dataclass(frozen=True)
class Act:
    key: str  # the handler's name in the window's table
    menu: str  # "File", "File/Export", ...
    text: str
    shortcut: str | QKeySequence.StandardKey | None = None
    checkable: bool = False
    menu_item: bool = True  # False: a shortcut only (Esc)


@dataclass(frozen=True)
class Sub:
    """A submenu filled when it is about to show (cameras, recent files, models)."""
    key: str
    menu: str
    text: str


@dataclass(frozen=True)
class Sep:
    menu: str


ACTIONS = (
    Act("open", "&File", "&Open…", QKeySequence.Open),
    Sub("cameras", "&File", "Open &Camera"),
    Act("open_stream", "&File", "Open Stream &URL…", "Ctrl+U"),
    Sub("recent", "&File", "Open &Recent"),
    Sep("&File"),
    Act("export_csv", "&File/&Export", "Predictions as &CSV…", "Ctrl+E"),
    Act("export_json", "&File/&Export", "Predictions as &JSON…", "Ctrl+Shift+E"),
    Act("export_annotated", "&File/&Export", "&Annotated video…"),
    Act("export_plots", "&File/&Export", "&Plots as PNG…"),
    Sep("&File"),
    Act("quit", "&File", "&Quit", "Ctrl+Q"),

    Act("play", "&Playback", "Play / Pause", "Space"),
    Act("previous", "&Playback", "Previous frame", "Left"),
    Act("next", "&Playback", "Next frame", "Right"),
    Act("back_1s", "&Playback", "Back 1 second", "Ctrl+Left"),
    Act("forward_1s", "&Playback", "Forward 1 second", "Ctrl+Right"),
    Act("back_10s", "&Playback", "Back 10 seconds", "Ctrl+Shift+Left"),
    Act("forward_10s", "&Playback", "Forward 10 seconds", "Ctrl+Shift+Right"),
    Act("start", "&Playback", "Go to start", "Home"),
    Act("end", "&Playback", "Go to end", "End"),
    Act("slower", "&Playback", "Slower", "["),
    Act("faster", "&Playback", "Faster", "]"),
    Sep("&Playback"),
    Act("loop", "&Playback", "Loop", "L", checkable=True),

    Sub("models", "&Models", ""),

    Act("full_screen", "&View", "Full screen (video only)", "F"),
    Act("leave_full_screen", "&View", "Leave full screen", "Esc", menu_item=False),
    Act("overlay", "&View", "Prediction overlay", "O", checkable=True),
    Act("heatmap", "&View", "Spatial attention heatmap", "H", checkable=True),
    Sep("&View"),
    Sub("docks", "&View", ""),  # the docks' own toggle actions

    Act("shortcuts", "&Help", "&Keyboard shortcuts", "F1"),
    Act("labels_help", "&Help", "What these &labels mean"),
    Act("about", "&Help", "&About"),
)

# what the mouse does, for the shortcut list (no action to declare: the widgets handle it)
MOUSE = (("Double-click the video", "Full screen"), ("Click the timeline, ethogram or slider", "Seek there"),
         ("Drag the dashed line on the timeline", "Set the threshold"),
         ("Click a segment in the list", "Seek to its start"), ("Drop a file or URL on the window", "Open it"))


def build_menus(window: QMainWindow, handlers: dict[str, Callable], submenus: dict[str, Callable[[QMenu], None]],
                table=ACTIONS) -> dict[str, QAction | QMenu]:
    """Menus from the table. `handlers[key]` is called with no argument (checkable: with the new
    state); `submenus[key](menu)` fills a submenu before it shows (a key with no text adds its
    items to the parent menu itself). Every action is also added to the window, so shortcuts
    work in full screen with the menu bar hidden. Returns key -> QAction or QMenu."""
    bar = window.menuBar()
    menus: dict[str, QMenu] = {}
    made: dict[str, QAction | QMenu] = {}

    def menu_for(path: str) -> QMenu:
        if path not in menus:
            parent, _, title = path.rpartition("/")
            menus[path] = (menu_for(parent).addMenu(title) if parent else bar.addMenu(title))
        return menus[path]

    for item in table:
        if isinstance(item, Sep):
            menu_for(item.menu).addSeparator()
        elif isinstance(item, Sub):
            parent = menu_for(item.menu)
            if item.text:
                sub = parent.addMenu(item.text)
                sub.aboutToShow.connect(lambda s=sub, k=item.key: submenus[k](s))
                made[item.key] = sub
            else:
                submenus[item.key](parent)  # fills the parent now (and, for Models, when it shows)
                made[item.key] = parent
        else:
            action = QAction(item.text.replace("&", "") if not item.menu_item else item.text, window)
            if item.shortcut is not None:
                action.setShortcut(QKeySequence(item.shortcut))
                action.setShortcutContext(Qt.WindowShortcut)
            action.setCheckable(item.checkable)
            handler = handlers[item.key]
            # a lambda taking the bool: PySide calls a bound C++ slot with no argument otherwise
            action.triggered.connect((lambda checked, h=handler: h(checked)) if item.checkable
                                     else (lambda checked=False, h=handler: h()))
            if item.menu_item:
                menu_for(item.menu).addAction(action)
            window.addAction(action)
            made[item.key] = action
    return made


def shortcut_rows(table=ACTIONS) -> list[tuple[str, str, str]]:
    """(menu, command, keys) for every action with a shortcut, in the order of the menus."""
    rows = []
    for item in table:
        if isinstance(item, Act) and item.shortcut is not None:
            keys = QKeySequence(item.shortcut).toString(QKeySequence.NativeText)
            if not keys:  # a standard key this platform has none for
                continue
            rows.append((item.menu.replace("&", "").replace("/", " ▸ "), item.text.replace("&", "").rstrip("…"), keys))
    return rows


def shortcuts_html(table=ACTIONS) -> str:
    rows = "".join(f"<tr><td>{menu}</td><td>{text}</td><td><b>{keys}</b></td></tr>"
                   for menu, text, keys in shortcut_rows(table))
    mouse = "".join(f"<tr><td></td><td>{what}</td><td><b>{does}</b></td></tr>" for what, does in MOUSE)
    return (f"<table cellspacing='6'><tr><th align='left'>Menu</th><th align='left'>Command</th>"
            f"<th align='left'>Keys</th></tr>{rows}<tr><th align='left' colspan='3'>Mouse</th></tr>{mouse}</table>")
