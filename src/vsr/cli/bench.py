"""`vsr-bench`: performance measurements, one subcommand each.

vsr-bench data     samples/s per DataLoader worker for each storage back-end
vsr-bench model    BasicVSR++ frames/s, peak memory and FLOP utilisation (inference, training)
vsr-bench upscale  vsr-upscale's peak memory and speed against the video's length
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from vsr.bench import data, model, upscale

    parser = argparse.ArgumentParser(prog="vsr-bench", description="Performance measurements.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subcommands = {
        "data": (data, "training samples/s per DataLoader worker for each storage back-end"),
        "model": (model, "speed, peak memory and FLOP utilisation of the network"),
        "upscale": (upscale, "vsr-upscale's peak memory and speed against the video's length"),
    }
    for name, (module, summary) in subcommands.items():
        # Each benchmark module brings its options and its runner.
        p = sub.add_parser(name, help=summary, description=module.__doc__.split("\n\n")[0])
        module.add_arguments(p)
        p.set_defaults(run=module.run_from_args)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vsr-bench`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.run(args, " ".join(["vsr-bench", *argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
