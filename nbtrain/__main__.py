"""``python -m nbtrain``: small command-line helpers.

    python -m nbtrain notebooks DEST [--force] [NAME ...]   copy the bundled lecture notebooks into DEST
    python -m nbtrain notebooks --list                      list them
"""

from __future__ import annotations

import argparse
import sys

from .resources import copy_notebooks, notebook_paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbtrain", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    nb = sub.add_parser("notebooks", help="copy the bundled lecture notebooks into a folder")
    nb.add_argument("dest", nargs="?", help="destination folder (created if needed)")
    nb.add_argument("names", nargs="*", help="only these notebooks (default: all)")
    nb.add_argument("--force", action="store_true", help="overwrite notebooks that are already there")
    nb.add_argument("--list", action="store_true", help="list the bundled notebooks and exit")
    args = parser.parse_args(argv)

    if args.command == "notebooks":
        if args.list:
            for path in notebook_paths():
                print(path.name)
            return 0
        if not args.dest:
            parser.error("notebooks: give a destination folder (or --list)")
        try:
            copied = copy_notebooks(args.dest, args.names or None, overwrite=args.force)
        except (ValueError, OSError) as exc:
            print(f"python -m nbtrain notebooks: {exc}", file=sys.stderr)
            return 2
        for path in copied:
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
