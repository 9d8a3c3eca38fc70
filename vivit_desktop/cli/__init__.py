"""`vivit-desktop`: the command line. One module per command (NAME, `add_parser(sub)`, `run(args)`),
the options and helpers they share in `common`; this module assembles the parser, opens the
window when no command is given, dispatches, and turns errors into exit statuses. Heavy modules
are imported inside the commands, so `--help` and `--version` are instant.

A domain error (`vivit_desktop.errors.VivitError`, and the OSError and ValueError of files and
input) prints one line and exits non-zero; anything else is a bug: one line saying so, and the
traceback with -v."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..errors import VivitError, one_line
from . import analyze, evaluate, generate, import_, info, live, models, train, zoo
from .common import Terminated, UserError, terminate_as_interrupt

__all__ = ["COMMANDS", "Terminated", "UserError", "main", "wants_gui"]

_COMMAND_MODULES = (models, import_, analyze, live, info, zoo, train, evaluate, generate)  # the order of --help
COMMANDS = tuple(m.NAME for m in _COMMAND_MODULES)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vivit-desktop",
        description="ViViT Desktop: video classification with ViViT (Arnab et al., ICCV 2021) and its "
                    "temporal attention.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.add_parser(sub)
    return parser


def wants_gui(argv: Sequence[str]) -> bool:
    """No sub-command: `vivit-desktop`, `vivit-desktop VIDEO`, `vivit-desktop --model X VIDEO`."""
    if any(a in ("-h", "--help", "--version", "--help-commands") for a in argv):
        return False
    return not any(a in COMMANDS for a in argv)


def _unknown_command(argv: Sequence[str]) -> str | None:
    """`vivit-desktop analyse` used to open the window with "analyse" as a video: a first word
    that is no command, no file, no camera index and no URL is a mistyped command."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS:
        return None
    word = argv[0]
    if Path(word).exists() or word.isdigit() or "://" in word or "/" in word or "\\" in word or "." in word:
        return None
    import difflib

    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    hint = f"; did you mean `vivit-desktop {close[0]}`?" if close else f"; the commands are: {', '.join(COMMANDS)}"
    return f"vivit-desktop: unknown command {word!r} (and no file of that name){hint}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    unknown = _unknown_command(argv)
    if unknown is not None:
        print(unknown, file=sys.stderr)
        return 2
    if wants_gui(argv):
        try:
            from ..ui.app import main as gui_main
        except ImportError as e:
            print(f"vivit-desktop: the window needs PySide6 and pyqtgraph ({e}); install them, or use a sub-command "
                  "(vivit-desktop --help)", file=sys.stderr)
            return 1
        return gui_main(argv)
    if "--help-commands" in argv:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    command = {m.NAME: m.run for m in _COMMAND_MODULES}[args.command]
    terminate_as_interrupt()
    try:
        return command(args)
    except Terminated:
        print("terminated (SIGTERM): temporary files removed, no output left half-written", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (VivitError, ValueError, OSError) as e:  # what the user can fix: one line
        print(f"vivit-desktop {args.command}: error: {one_line(e)}", file=sys.stderr)
        return e.exit_code if isinstance(e, VivitError) else 1
    except RecursionError:
        print(f"vivit-desktop {args.command}: error: an input is nested too deeply to be a valid file",
              file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - a bug: one line, the traceback with -v
        if args.verbose:
            raise
        print(f"vivit-desktop {args.command}: unexpected error ({type(e).__name__}: {one_line(e)}); this is a "
              "bug: run again with -v for the traceback and report it", file=sys.stderr)
        return 1
