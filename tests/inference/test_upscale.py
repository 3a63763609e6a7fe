from __future__ import annotations

import copy
import logging
from fractions import Fraction
from pathlib import PurePosixPath

import numpy as np
import pytest
import torch
from PIL import Image

from vsr.inference import (
    VideoIOError,
    VideoWriter,
    open_reader,
    to_uint8,
    upscale_frames,
    upscale_video,
)
from vsr.inference.upscale import graph_device, resolve_precision
from vsr.machine import cpu_supports_bf16
from vsr.nn import BasicVSRPlusPlus
from vsr.nn.checkpoint import CheckpointError

from .helpers import context_model, photo_clip, psnr, random_frames


@pytest.fixture(scope="module")
def model() -> BasicVSRPlusPlus:
    return context_model()


@pytest.fixture(scope="module")
def clip() -> tuple[list, list]:
    return photo_clip(24, 64)  # 24 frames, 16x16 low-res, 64x64 GT


@pytest.fixture(scope="module")
def whole(model, clip) -> list[np.ndarray]:
    return list(upscale_frames(clip[1], model, chunk=len(clip[1]), overlap=0))


def test_chunk_covering_the_clip_gives_the_network_output_exactly(model, clip, whole):
    lqs = torch.from_numpy(np.stack(clip[1])).permute(0, 3, 1, 2).float().div(255)[None]
    with torch.no_grad():
        expected = to_uint8(model(lqs)[0])
    np.testing.assert_array_equal(np.stack(whole), expected)
    longer = list(upscale_frames(clip[1], model, chunk=100, overlap=10))
    np.testing.assert_array_equal(np.stack(longer), expected)


def test_overlapping_chunks_leave_no_seam(model, clip, whole):
    gt, lr = clip
    chunked = list(upscale_frames(lr, model, chunk=8, overlap=4))
    cut = list(upscale_frames(lr, model, chunk=8, overlap=0))
    alone = list(upscale_frames(lr, model, chunk=1, overlap=0))
    # The network really uses its neighbours: frames processed alone differ a lot ...
    assert psnr(alone, whole) < 42
    # ... cutting without context shows, four frames of context on each side nearly removes it:
    assert psnr(chunked, whole) > psnr(cut, whole) + 3
    # measured: 48.2 dB against the whole clip, 0.013 dB of PSNR against the ground truth.
    assert abs(psnr(chunked, gt) - psnr(whole, gt)) <= 0.05


def test_tiles_leave_no_seam(model):
    gt, lr = photo_clip(4, 160)  # 40x40 low-res: 2x2 tiles of 24 overlapping by 8
    untiled = list(upscale_frames(lr, model))
    tiled = list(upscale_frames(lr, model, tile=24, tile_overlap=8))
    # measured: 56.3 dB, max difference 3 grey levels (SPyNet sees each tile at its own scale).
    assert psnr(tiled, untiled) > 50
    assert abs(psnr(tiled, gt) - psnr(untiled, gt)) <= 0.05


@pytest.mark.parametrize(
    ("h", "w", "t", "options"),
    [
        (17, 23, 3, {"chunk": 2, "overlap": 1, "tile": 8, "tile_overlap": 2}),
        (1, 1, 1, {}),
        (2, 3, 5, {"chunk": 2, "overlap": 3}),
    ],
)
def test_any_frame_size_and_count(h, w, t, options):
    torch.manual_seed(0)
    net = BasicVSRPlusPlus(mid_channels=8, num_blocks=1)
    out = list(upscale_frames(random_frames(t, h, w), net, **options))
    assert len(out) == t
    assert all(f.shape == (4 * h, 4 * w, 3) and f.dtype == np.uint8 for f in out)


def test_same_size_models_keep_odd_sizes():
    torch.manual_seed(0)
    net = BasicVSRPlusPlus(mid_channels=8, num_blocks=1, is_low_res_input=False)
    out = list(upscale_frames(random_frames(3, 17, 23), net, chunk=2, overlap=1))
    assert [f.shape for f in out] == [(17, 23, 3)] * 3


def test_frames_are_read_only_as_far_as_needed(model):
    read = []

    def frames():
        for frame in random_frames(30, 8, 8):
            read.append(frame)
            yield frame

    outputs = upscale_frames(frames(), model, chunk=5, overlap=2)
    next(outputs)
    assert len(read) == 7  # the first chunk and its right context, not the video


def test_output_is_clamped_and_rounded_half_to_even():
    x = torch.tensor([-0.2, 0.5, 1.3, 2.5 / 255, 1 / 255]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    assert to_uint8(x)[0, 0, :, 0].tolist() == [0, 128, 255, 2, 1]


def test_half_precision_on_the_cpu_or_a_missing_gpu_is_a_clear_error(model):
    with pytest.raises(ValueError, match="precision fp16 needs a GPU"):
        next(upscale_frames(random_frames(2, 8, 8), model, device="cpu", precision="fp16"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            next(upscale_frames(random_frames(2, 8, 8), model, device="cuda"))


@pytest.mark.gpu
def test_half_precision_on_cuda_is_close_to_fp32(model, clip):
    fp32 = list(upscale_frames(clip[1], model, device="cuda"))
    for precision in ("bf16", "fp16"):
        half = list(upscale_frames(clip[1], model, device="cuda", precision=precision))
        assert psnr(half, fp32) > 35


# ------------------------------------------------------------------------------- files


def save_frames(folder, frames, names=None):
    folder.mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / (names[i] if names else f"f{i}.png"))


def test_frame_folder_to_lossless_video_in_natural_order(tmp_path, model):
    lr = random_frames(5, 12, 10)
    names = ["shot_9.png", "shot_10.png", "shot_11.png", "shot_100.png", "shot_1000.png"]
    save_frames(tmp_path / "in", lr, names)
    result = upscale_video(
        tmp_path / "in", tmp_path / "out.mkv", model, chunk=2, overlap=1, lossless=True
    )
    assert result.frames == 5 and result.fps == 25
    with open_reader(tmp_path / "out.mkv") as reader:
        back = list(reader)
        assert reader.fps == 25
    expected = list(upscale_frames(lr, model, chunk=2, overlap=1))
    np.testing.assert_array_equal(np.stack(back), np.stack(expected))


def test_video_to_video_keeps_the_frame_rate_and_video_to_frames(tmp_path, model, tiny_checkpoint):
    src = tmp_path / "in.mp4"
    fps = Fraction(30000, 1001)
    with VideoWriter(src, fps, lossless=True) as writer:
        for frame in random_frames(4, 9, 7):
            writer.write(frame)
    upscale_video(src, tmp_path / "out.mp4", model, chunk=3, overlap=1)
    with open_reader(tmp_path / "out.mp4") as reader:
        assert reader.fps == fps
        assert [f.shape for f in reader] == [(36, 28, 3)] * 4
    upscale_video(src, tmp_path / "png", tiny_checkpoint)  # a checkpoint path works too
    names = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert names == ["00000000.png", "00000001.png", "00000002.png", "00000003.png"]


def test_corrupt_frame_midway_leaves_a_playable_partial_video(tmp_path, model, caplog):
    frames = random_frames(8, 8, 8)
    save_frames(tmp_path / "in", frames)
    (tmp_path / "in" / "f5.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    out = tmp_path / "out.mkv"
    with caplog.at_level(logging.WARNING), pytest.raises(VideoIOError, match=r"f5\.png"):
        upscale_video(tmp_path / "in", out, model, chunk=2, overlap=1, lossless=True)
    assert not out.exists()
    partial = tmp_path / "out.partial.mkv"
    assert "out.partial.mkv" in caplog.text
    with open_reader(partial) as reader:
        back = list(reader)
    # Chunks [0, 2) and [2, 4) were complete; [4, 6) needed frame 5.
    expected = list(upscale_frames(frames[:5], model, chunk=2, overlap=1))[:4]
    np.testing.assert_array_equal(np.stack(back), np.stack(expected))


FULL_DISK = """
import resource, signal, sys
# The file-size limit fails writes as a full disk does (an OSError from the muxer midway).
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
from vsr.cli.upscale import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_disk_that_fills_up_midway_fails_clearly_and_leaves_nothing_complete(
    tmp_path, tiny_checkpoint
):
    import subprocess
    import sys

    src = tmp_path / "in.mkv"
    with VideoWriter(src, 25, lossless=True) as writer:
        for frame in random_frames(30, 32, 40):  # noise: ~10 kB a lossless output frame
            writer.write(frame)
    out = tmp_path / "out.mkv"
    args = [src, out, "-c", tiny_checkpoint, "--lossless", "--scene-cuts", "off", "--quiet"]
    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK, *map(str, args)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "error: cannot write frame" in proc.stderr and "out.partial.mkv" in proc.stderr
    assert not out.exists()  # nothing that looks complete
    with open_reader(tmp_path / "out.partial.mkv") as reader:  # what was written stays readable
        assert 0 < len(list(reader)) < 30


def test_interrupt_closes_the_partial_video(tmp_path, model):
    save_frames(tmp_path / "in", random_frames(6, 8, 8))

    def interrupt_after_three(done, total):
        assert total == 6
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upscale_video(tmp_path / "in", tmp_path / "o.mp4", model, progress=interrupt_after_three)
    assert not (tmp_path / "o.mp4").exists()
    with open_reader(tmp_path / "o.partial.mp4") as reader:
        assert len(list(reader)) == 3


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"chunk": 0}, "--chunk"),
        ({"tile": 16, "tile_overlap": 16}, "--tile-overlap"),
        ({"fps": 0}, "frame rate must be positive"),
        ({"crf": 18}, "frame folder"),
        ({"codec": "no-such-codec"}, "no encoder"),
        ({"device": "cpu", "precision": "fp16"}, "needs a GPU"),
    ],
)
def test_bad_settings_fail_before_the_checkpoint_is_read(tmp_path, settings, message):
    save_frames(tmp_path / "in", random_frames(2, 8, 8))
    out = tmp_path / ("out.mp4" if "codec" in settings else "out")
    # The checkpoint does not exist: a settings error shows it was never opened.
    with pytest.raises(ValueError, match=message):
        upscale_video(tmp_path / "in", out, tmp_path / "missing.pth", **settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        upscale_video(tmp_path / "in", out, tmp_path / "missing.pth")


def test_unreadable_checkpoint_is_one_line_that_says_what_to_do(tmp_path, model):
    save_frames(tmp_path / "in", random_frames(2, 8, 8))
    # mmagic's layout, with a Python object (a path) in its metadata: torch refuses it unless
    # the file is trusted.
    checkpoint = tmp_path / "with_objects.pth"
    sd = {f"generator.{k}": v for k, v in model.state_dict().items()}
    torch.save({"meta": {"source": PurePosixPath("/runs/x")}, "state_dict": sd}, checkpoint)
    with pytest.raises(CheckpointError) as err:
        upscale_video(tmp_path / "in", tmp_path / "out", checkpoint)
    message = str(err.value)
    assert "\n" not in message and "with_objects.pth" in message
    assert "trusted=True" in message and "--trust-checkpoint" in message
    assert err.value.__cause__ is not None  # torch's own reason, for --debug
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "with_objects.pth"]

    result = upscale_video(tmp_path / "in", tmp_path / "out", checkpoint, trusted=True)
    assert result.frames == 2
    expected = list(upscale_frames(random_frames(2, 8, 8), model))
    back = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "out").iterdir())]
    np.testing.assert_array_equal(np.stack(back), np.stack(expected))


def test_zero_frames_and_existing_outputs_write_nothing(tmp_path, model):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no frames here")
    with pytest.raises(VideoIOError, match="no image files"):
        upscale_video(tmp_path / "empty", tmp_path / "out.mp4", model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]

    save_frames(tmp_path / "in", random_frames(2, 8, 8))
    (tmp_path / "out.mp4").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="--overwrite"):
        upscale_video(tmp_path / "in", tmp_path / "out.mp4", model)
    assert (tmp_path / "out.mp4").read_bytes() == b"precious"
    upscale_video(tmp_path / "in", tmp_path / "out.mp4", model, overwrite=True)
    with open_reader(tmp_path / "out.mp4") as reader:
        assert len(list(reader)) == 2


@pytest.mark.skipif(not cpu_supports_bf16(), reason="needs a CPU with AVX-512 BF16 or AMX")
def test_bf16_on_the_cpu_is_close_to_fp32(model, clip, whole):
    lr = clip[1]  # the low-res frames `whole` was made from
    out = list(upscale_frames(lr, model, chunk=len(lr), overlap=0, device="cpu", precision="bf16"))
    assert all(f.shape == w.shape and f.dtype == np.uint8 for f, w in zip(out, whole, strict=True))
    assert min(psnr(f, w) for f, w in zip(out, whole, strict=True)) > 40


@pytest.mark.parametrize("native_bf16", [True, False])
def test_auto_precision_is_bf16_on_a_cpu_with_native_bf16_else_fp32(
    model, clip, monkeypatch, native_bf16
):
    monkeypatch.setattr("vsr.inference.upscale.cpu_supports_bf16", lambda: native_bf16)
    lr = clip[1][:3]

    def run(precision: str) -> np.ndarray:
        net = copy.deepcopy(model)  # bf16 makes a network channels-last; keep the shared one
        frames = upscale_frames(lr, net, chunk=3, overlap=0, device="cpu", precision=precision)
        return np.stack(list(frames))

    auto, fp32 = run("auto"), run("fp32")
    if native_bf16:
        np.testing.assert_array_equal(auto, run("bf16"))
        assert not np.array_equal(auto, fp32)
    else:
        np.testing.assert_array_equal(auto, fp32)


def test_auto_precision_runs_an_exported_graph_at_its_own():
    assert resolve_precision("auto", torch.device("cpu"), graph=True) == "fp32"
    assert graph_device(None, "auto") == "cpu"
    with pytest.raises(ValueError, match="--precision bf16"):
        graph_device(None, "bf16")


class OverflowsInHalf(torch.nn.Module):
    """Nearest x4 upsampling that gives inf for frame 1 whenever autocast is on."""

    scale = 4

    def forward(self, lqs):
        out = lqs.repeat_interleave(4, dim=-2).repeat_interleave(4, dim=-1)
        if torch.is_autocast_enabled("cpu"):
            out = out.clone()
            out[:, 1] = float("inf")
        return out


@pytest.mark.skipif(not cpu_supports_bf16(), reason="needs a CPU with AVX-512 BF16 or AMX")
def test_an_overflowing_chunk_is_recomputed_in_fp32_with_a_warning():
    frames = random_frames(6, 8, 8)
    with pytest.warns(UserWarning) as caught:
        out = list(
            upscale_frames(
                frames, OverflowsInHalf(), chunk=3, overlap=0, device="cpu", precision="bf16"
            )
        )
    # One warning per chunk, naming its frame (frame 1 of each 3-frame chunk: 1 and 4).
    assert [str(w.message).split(" is ")[0] for w in caught] == [
        "bf16 output of frame(s) 1",
        "bf16 output of frame(s) 4",
    ]
    expected = list(upscale_frames(frames, OverflowsInHalf(), chunk=3, overlap=0, device="cpu"))
    assert all(np.array_equal(a, b) for a, b in zip(out, expected, strict=True))
