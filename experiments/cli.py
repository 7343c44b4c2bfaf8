"""The ``aimarket`` command line."""

from __future__ import annotations

import argparse
import sys


def _demo(_args: argparse.Namespace) -> int:
    from experiments.demo import run_demo

    run_demo()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aimarket", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="clear a small wafer + HBM + CoWoS -> accelerator market")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
