"""Reduced precision against fp32 with a trained network on real frames.

    python scripts/precision_check.py CHECKPOINT ROOT [--precision bf16] [--threads 1]

ROOT is a REDS-layout folder (the demo set: `train_sharp/<clip>`, `train_sharp_bicubic/X4/<clip>`);
each REDS4 clip is upscaled whole at fp32 and at the other precision, and scored against its
ground truth (RGB PSNR over the clip), with the PSNR of the reduced-precision frames against the
fp32 ones.

With --gt-as-input the ground-truth frames themselves (4x larger, 256x192 for the demo set) are
upscaled as well: no ground truth exists for those outputs, so only the reduced-precision frames
against the fp32 ones are reported, at a frame size where a bf16 sampling position would be off
by up to a pixel.

With --sigma S the checkpoint is a same-size denoiser: each clip's ground truth, made noisy at
sigma S (RGB Gaussian noise, seeded by the clip's number), is the input, and the noisy input's
own PSNR is printed beside the model's.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

from vsr import load_generator
from vsr.data.corruptions import GaussianNoise
from vsr.inference import open_reader, upscale_frames

CLIPS = ("000", "011", "015", "020")


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    diff = np.stack(a).astype(np.float64) - np.stack(b).astype(np.float64)
    return float(10 * np.log10(255**2 / np.mean(diff**2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("root")
    parser.add_argument("--precision", default="bf16", choices=("bf16", "fp16"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--gt-as-input", action="store_true", help="also upscale the ground-truth frames"
    )
    parser.add_argument(
        "--sigma", type=float, help="a same-size denoiser: the input is the noisy ground truth"
    )
    parser.add_argument(
        "--trust-checkpoint", action="store_true", help="allow a checkpoint that pickles objects"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_generator(args.checkpoint, trusted=args.trust_checkpoint)
    if (args.sigma is None) != (model.scale != 1):
        parser.error(f"--sigma goes with a same-size checkpoint; this one is x{model.scale}")
    print("clip | fp32 dB | reduced dB | difference | reduced vs fp32 dB | frames/s fp32 / reduced")
    for clip in CLIPS:
        with open_reader(f"{args.root}/train_sharp/{clip}") as reader:
            gt = list(reader)
        if args.sigma is None:
            with open_reader(f"{args.root}/train_sharp_bicubic/X4/{clip}") as reader:
                lr = list(reader)
        else:
            noise = GaussianNoise(args.sigma)
            lr = list(noise(np.stack(gt), np.random.default_rng(int(clip))))
        out, speed = upscale_both(model, lr, args)
        full, reduced = psnr(out["fp32"], gt), psnr(out[args.precision], gt)
        print(
            f"{clip} | {full:.3f} | {reduced:.3f} | {reduced - full:+.3f} | "
            f"{psnr(out[args.precision], out['fp32']):.2f} | "
            f"{speed['fp32']:.2f} / {speed[args.precision]:.2f}"
            + (f" | noisy input {psnr(lr, gt):.3f}" if args.sigma is not None else "")
        )
        if args.gt_as_input:
            out, speed = upscale_both(model, gt, args)
            height, width = gt[0].shape[:2]
            print(
                f"{clip}, its {width}x{height} ground truth as input | - | - | - | "
                f"{psnr(out[args.precision], out['fp32']):.2f} | "
                f"{speed['fp32']:.2f} / {speed[args.precision]:.2f}"
            )


def upscale_both(
    model: torch.nn.Module, frames: list[np.ndarray], args: argparse.Namespace
) -> tuple[dict[str, list[np.ndarray]], dict[str, float]]:
    """The clip upscaled whole at fp32 and at args.precision, with each one's frames/s."""
    out, speed = {}, {}
    for precision in ("fp32", args.precision):
        net = copy.deepcopy(model)  # bf16 turns the network channels-last
        start = time.perf_counter()
        out[precision] = list(
            upscale_frames(
                frames,
                net,
                chunk=len(frames),
                overlap=0,
                device=args.device,
                precision=precision,
            )
        )
        speed[precision] = len(frames) / (time.perf_counter() - start)
    return out, speed


if __name__ == "__main__":
    main()
