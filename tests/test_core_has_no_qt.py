"""The core (everything outside vivit_desktop/ui) never imports Qt or pyqtgraph."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import vivit_desktop

PACKAGE = Path(vivit_desktop.__file__).parent
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "pyqtgraph", "qtpy")


def core_modules():
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="vivit_desktop."):
        if not info.name.startswith("vivit_desktop.ui") and not info.name.endswith("__main__"):
            yield info.name


def test_importing_the_whole_core_loads_no_qt():
    modules = sorted(core_modules())
    assert "vivit_desktop.model.vivit" in modules and "vivit_desktop.cli" in modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the core imported {out.stdout.strip()}"


def test_no_core_source_file_mentions_a_qt_import():
    """Catches lazy imports inside functions too, which the runtime check cannot see."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "ui" in path.relative_to(PACKAGE).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}:{node.lineno} {n}" for n in names if n.split(".")[0] in QT_MODULES]
    assert not offenders
