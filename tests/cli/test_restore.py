"""`vsr-restore`: the same-size models (deblurring, denoising, decompression) on videos."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsr.cli.upscale import main, restore_main
from vsr.inference import VideoWriter, open_reader, upscale_frames
from vsr.nn import BasicVSRPlusPlus


@pytest.fixture
def same_size(tmp_path):
    torch.manual_seed(0)
    net = BasicVSRPlusPlus(8, 1, is_low_res_input=False).eval()
    path = tmp_path / "restore_c8n1.pth"
    torch.save(net.state_dict(), path)
    return net, path


def frames(n: int = 4, h: int = 34, w: int = 46) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_restores_a_video_at_its_own_size(tmp_path, same_size, capsys) -> None:
    net, checkpoint = same_size
    src, out = tmp_path / "noisy.mkv", tmp_path / "clean.mkv"
    with VideoWriter(src, 25, lossless=True) as writer:
        for frame in frames():
            writer.write(frame)
    args = [str(src), str(out), "--checkpoint", str(checkpoint), "--lossless", "--quiet"]
    assert restore_main([*args, "--chunk", "2", "--overlap", "1", "--tile", "24"]) == 0
    with open_reader(out) as reader:
        written = list(reader)
    assert [f.shape for f in written] == [(34, 46, 3)] * 4
    # What the library gives for the same frames, chunks, tiles and (default) precision
    # (lossless: the same bytes).
    expected = list(
        upscale_frames(frames(), net, chunk=2, overlap=1, tile=24, device="cpu", precision="auto")
    )
    assert all(np.array_equal(a, b) for a, b in zip(written, expected, strict=True))


def test_vsr_upscale_runs_a_same_size_checkpoint_as_vsr_restore_does(tmp_path, same_size) -> None:
    _, checkpoint = same_size
    src = tmp_path / "noisy"
    src.mkdir()
    from PIL import Image

    for i, frame in enumerate(frames(3)):
        Image.fromarray(frame).save(src / f"{i:03d}.png")
    outputs = {}
    for name, entry in (("upscale", main), ("restore", restore_main)):
        out = tmp_path / name
        assert entry([str(src), str(out), "--checkpoint", str(checkpoint), "--quiet"]) == 0
        outputs[name] = [np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))]
    assert [f.shape for f in outputs["upscale"]] == [(34, 46, 3)] * 3
    assert all(
        np.array_equal(a, b) for a, b in zip(outputs["upscale"], outputs["restore"], strict=True)
    )


def test_a_x4_checkpoint_is_refused_before_any_frame(tmp_path, capsys) -> None:
    x4 = tmp_path / "x4.pth"
    torch.save(BasicVSRPlusPlus(8, 1).state_dict(), x4)
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    from PIL import Image

    for i, frame in enumerate(frames(2)):
        Image.fromarray(frame).save(src / f"{i:03d}.png")
    assert restore_main([str(src), str(out), "--checkpoint", str(x4)]) == 1
    err = capsys.readouterr().err
    assert "vsr-restore: error: this command runs same-size models" in err
    assert "run it with vsr-upscale" in err
    assert not out.exists()


def test_help_names_the_command(capsys) -> None:
    with pytest.raises(SystemExit):
        restore_main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: vsr-restore") and "vsr-restore blurry.mp4 sharp.mp4" in out
