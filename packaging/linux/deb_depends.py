"""The Debian `Depends:` of a one-folder bundle: the system libraries its programs, libraries
and Qt plugins link to but it does not carry, each named by the package that installed it here.

    python packaging/linux/deb_depends.py BUNDLE_DIR   ->   "libc6, libegl1, libfontconfig1, ..."

Exits 1, naming them, when a library is found nowhere (the bundle would not run anywhere).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def elf_files(bundle: Path) -> list[Path]:
    found = []
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def outside_libraries(bundle: Path) -> tuple[set[str], set[str]]:
    """(paths of the libraries resolved outside the bundle, names not found at all). The loader
    is given the bundle's library folders, as PyInstaller's bootloader gives them at run time."""
    folders = sorted({str(p.parent) for p in bundle.rglob("*.so*")})
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(folders)}
    outside, missing = set(), set()
    root = str(bundle.resolve())
    for path in elf_files(bundle):
        done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
        for line in done.stdout.splitlines():
            name, _, target = line.strip().partition(" => ")
            if "not found" in target:
                missing.add(name)
            elif target.startswith("/"):
                resolved = os.path.realpath(target.split(" (")[0])
                if not resolved.startswith(root):
                    outside.add(target.split(" (")[0])
    return outside, missing


def owning_package(library: str) -> str | None:
    candidates = {library, os.path.realpath(library)}
    for path in list(candidates):  # merged /usr: dpkg may know /lib/... or /usr/lib/...
        candidates.add(path[4:] if path.startswith("/usr/") else "/usr" + path)
    for path in candidates:
        done = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.split(":", 1)[0].strip()
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    outside, missing = outside_libraries(Path(argv[0]))
    # Qt's platform plugins for Wayland and EGL load their libraries only on such systems; the
    # xcb plugin is the one every X11 and XWayland desktop uses
    if missing:
        print("libraries found nowhere: " + ", ".join(sorted(missing)), file=sys.stderr)
        return 1
    packages = set()
    for library in sorted(outside):
        package = owning_package(library)
        if package is None:
            print(f"warning: {library} belongs to no Debian package; not a dependency", file=sys.stderr)
        else:
            packages.add(package)
    print(", ".join(sorted(packages)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
