"""`vivit-desktop zoo`: the catalogue of published models; `zoo get NAME` installs one."""

from __future__ import annotations

import argparse
import sys

NAME = "zoo"


def add_parser(sub) -> None:
    zoo = sub.add_parser("zoo", help="the published ViViT models (Kinetics, Epic-Kitchens); `zoo get NAME` installs one",
                         description="The model catalogue: published ViViT weights (scenic's Kinetics-400/600 and "
                                     "Epic-Kitchens-100 models, Hugging Face's Kinetics-400 model). Without a "
                                     "sub-command: list them, with whether each is installed.")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", metavar="get")
    get = zoo_sub.add_parser("get", help="download, convert and install a catalogue model into the user models folder",
                             description="Download NAME (resuming an interrupted download), convert it and install it "
                                         "into the user models folder; then `--model NAME` and the window's Models "
                                         "menu use it.")
    get.add_argument("name", metavar="NAME", help="a name from `vivit-desktop zoo`")
    get.add_argument("--force", action="store_true", help="install again, replacing the installed model")
    get.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from .. import zoo
    from ..paths import user_models_dir

    if args.zoo_command == "get":
        return _get(args)
    rows = [(e.name, f"{e.title}, {e.model_title.split(':')[0]}", e.dataset, e.top1_text, e.size_text,
             e.licence_short, "installed" if zoo.installed_path(e) else "") for e in zoo.catalogue()]
    header = ("name", "model", "dataset", "top-1 (published)", "size", "licence", "")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for row, e in zip(rows, zoo.catalogue()):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        print(f"    {e.url}")
    print(f"\nSizes are estimates. Licences as each source states them: scenic's model zoo names no licence for its "
          f"checkpoints (scenic's code is Apache-2.0); the Hugging Face model card says MIT.\n"
          f"`vivit-desktop zoo get NAME` installs one into {user_models_dir()}.")
    return 0


def _get(args: argparse.Namespace) -> int:
    from .. import zoo

    bar = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None or bar.total != total:
            from tqdm import tqdm

            if bar is not None:
                bar.close()
            bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024, desc=args.name,
                       leave=False, file=sys.stderr)
        else:
            bar.update(done - bar.n)

    def stage(text: str) -> None:
        nonlocal bar
        if bar is not None:
            bar.close()
            bar = None
        print(f"{args.name}: {text}", file=sys.stderr)

    try:
        weights = zoo.install(args.name, force=args.force, progress=progress, stage=stage)
    except KeyboardInterrupt:
        print("interrupted: nothing was installed; an interrupted download is kept and the next get resumes it",
              file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(f"installed {args.name}: {weights} (use it with --model {args.name}, or from the window's Models menu)")
    return 0
