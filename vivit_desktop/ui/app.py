"""`vivit-desktop [VIDEO]`: the window, with the default model and the sample clip (or VIDEO)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vivit-desktop", description="ViViT Desktop: open a video and watch what a "
                                     "video transformer predicts and attends to. Sub-commands (analyze, live, train, "
                                     "...) run headless: see `vivit-desktop --help-commands`.")
    parser.add_argument("video", nargs="?", help="a video file, camera index or stream URL to open "
                                                 "(default: the bundled sample clip)")
    parser.add_argument("--model", metavar="NAME|PATH", help="the model to start with (default: the last one used, "
                                                             "else the shipped default)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="inference device")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help=argparse.SUPPRESS)
    parser.add_argument("--screenshot-after", type=float, default=8.0, help=argparse.SUPPRESS)
    parser.add_argument("--size", metavar="WxH", help="initial window size, e.g. 1920x1080")
    parser.add_argument("--self-test", action="store_true",
                        help="check the installed program without a screen: load every shipped model, analyse the "
                             "sample clip (and VIDEO, a real clip, if given), play it in an offscreen window; "
                             "exit 0 when all is well")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import logging

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.self_test:
        from .selftest import run

        return run(args.video, device=args.device or "auto")
    if args.model is not None and not _names_a_checkpoint(args.model):
        # a name typed on the command line that names nothing is an error, not the default
        from .. import catalog

        try:
            catalog.resolve(args.model)  # a registry architecture (imports torch: only for these)
        except ValueError as e:
            print(f"vivit-desktop: --model: {e}", file=sys.stderr)
            return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from .main_window import APP, ORG, MainWindow, icon_path, sample_clip

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP)
    app.setOrganizationName(ORG)
    app.setStyle("Fusion")
    _dark_palette(app)
    if icon_path().exists():
        app.setWindowIcon(QIcon(str(icon_path())))
    window = MainWindow(model=args.model, device=args.device)
    if args.size:
        width, height = (int(v) for v in args.size.lower().split("x"))
        window.resize(width, height)
    window.show()
    target = args.video or (str(sample_clip()) if sample_clip().exists() else None)
    if target is not None:
        window.open_source_text(str(target))
    if args.screenshot:
        def shoot() -> None:
            window.grab().save(str(args.screenshot))
            window.close()

        QTimer.singleShot(int(args.screenshot_after * 1000), shoot)
    if os.environ.get("VIVIT_DESKTOP_REPORT_SHOWN"):  # bench/bench_startup.py: when the window is up
        QTimer.singleShot(0, lambda: print("vivit-desktop: window shown", flush=True))
    signal.signal(signal.SIGINT, lambda *_: window.close())  # Ctrl+C in the terminal closes cleanly
    pulse = QTimer()
    pulse.start(250)  # lets Python see the signal while Qt's loop runs
    pulse.timeout.connect(lambda: None)
    code = app.exec()
    if not window.clean_exit:
        logging.getLogger(__name__).info("ending with a worker still busy")
    if os.environ.get("VIVIT_DESKTOP_NO_FAST_EXIT") is None:
        # The window is closed and its settings saved. A forward pass cannot be interrupted, and
        # waiting for one (or for the interpreter to tear torch and Qt down) kept the process
        # alive for seconds: end now. Caches and exports are written atomically, and a
        # temporary left behind is swept by the next run.
        from ..engine.remote import processes

        processes.shutdown()  # the analysis processes: ended, not waited for (their caches are atomic too)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _names_a_checkpoint(spec: str) -> bool:
    """A checkpoint file or the name of a shipped or user checkpoint: checked without importing
    torch, so that the window appears at once."""
    from ..paths import shipped_models_dir, user_models_dir

    path = Path(spec)
    if path.suffix == ".safetensors" and path.is_file() or path.with_suffix(".safetensors").is_file():
        return True
    return spec == "default" or any((folder / f"{spec}.safetensors").is_file()
                                    for folder in (shipped_models_dir(), user_models_dir()))


def _dark_palette(app) -> None:
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    for role, colour in ((QPalette.Window, (37, 37, 42)), (QPalette.WindowText, (225, 225, 230)),
                         (QPalette.Base, (28, 28, 32)), (QPalette.AlternateBase, (44, 44, 50)),
                         (QPalette.Text, (225, 225, 230)), (QPalette.Button, (48, 48, 54)),
                         (QPalette.ButtonText, (225, 225, 230)), (QPalette.Highlight, (80, 170, 255)),
                         (QPalette.HighlightedText, (10, 10, 10)), (QPalette.ToolTipBase, (50, 50, 56)),
                         (QPalette.ToolTipText, (235, 235, 240)), (QPalette.Link, (110, 180, 255)),
                         (QPalette.LinkVisited, (170, 140, 255)),  # the default dark blue is unreadable here
                         (QPalette.PlaceholderText, (150, 150, 158))):  # the default grey was near the base's
        palette.setColor(role, QColor(*colour))
    palette.setColor(QPalette.Disabled, QPalette.Text, QColor(120, 120, 125))
    palette.setColor(QPalette.Disabled, QPalette.WindowText, QColor(120, 120, 125))
    palette.setColor(QPalette.Disabled, QPalette.ButtonText, QColor(120, 120, 125))
    app.setPalette(palette)
