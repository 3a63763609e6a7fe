"""Export a BasicVSR++ checkpoint: ONNX, safetensors, or a file for mmagic or BasicSR.

vsr-export model.pth model.onnx --frames 30          # 30-frame clips of any size
vsr-export model.pth model.onnx --size 180x320       # a graph for 180x320 frames only
vsr-export model.pth model.safetensors               # tensors + architecture, no pickle
vsr-export model.ckpt model_mmagic.pth --format mmagic
vsr-export model.ckpt model_basicsr.pth --format basicsr
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _size(text: str) -> tuple[int, int]:
    height, sep, width = text.lower().partition("x")
    if not (sep and height.isdigit() and width.isdigit()):
        raise argparse.ArgumentTypeError(f"expected HxW (e.g. 180x320), got {text!r}")
    return int(height), int(width)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsr-export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "checkpoint", metavar="CHECKPOINT", help="any file vsr.load_generator reads"
    )
    parser.add_argument("out", metavar="OUT", help="output file (.onnx, .safetensors, or .pth)")
    parser.add_argument(
        "--format",
        choices=("onnx", "safetensors", "mmagic", "basicsr"),
        help="output format (default: from OUT's suffix; .pth needs mmagic or basicsr)",
    )
    parser.add_argument(
        "--frames", type=int, default=12, help="ONNX: frames per clip the graph takes (default 12)"
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=None,
        help="ONNX: fix the input frames' HxW (default: any size, from 33 pixels a side for x4 "
        "graphs, 129 for same-size ones, to 4096)",
    )
    parser.add_argument(
        "--half", action="store_true", help="ONNX: an fp16 graph (SPyNet's flows stay fp32)"
    )
    parser.add_argument(
        "--no-ema", action="store_true", help="the plain weights even when the file has EMA ones"
    )
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow checkpoints that hold Python objects besides tensors (files you trust)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vsr-export`; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        from pathlib import Path

        from vsr.export import export_onnx, export_weights, format_of

        fmt = format_of(args.out, args.format)
        if Path(args.out).exists() and not args.overwrite:  # before loading anything
            raise FileExistsError(f"{args.out} exists; pass --overwrite to replace it")
        if fmt == "onnx" and args.frames < 2:
            raise ValueError(f"--frames must be at least 2, got {args.frames}")
        import vsr

        model = vsr.load_generator(
            args.checkpoint, ema=not args.no_ema, trusted=args.trust_checkpoint
        )
        if fmt == "onnx":
            report = export_onnx(
                model,
                args.out,
                frames=args.frames,
                size=args.size,
                half=args.half,
                overwrite=args.overwrite,
            )
            print(json.dumps(report, indent=1))
        else:
            export_weights(model, args.out, fmt, overwrite=args.overwrite)
            print(f"wrote {args.out} ({fmt})")
    except (ValueError, OSError, KeyError, ImportError) as err:
        print(f"vsr-export: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
