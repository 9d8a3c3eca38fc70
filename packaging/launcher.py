"""The frozen program's entry point: the same `vivit-desktop` command as the installed package."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the training pool's worker processes re-enter here
    from vivit_desktop.cli import main

    sys.exit(main())
