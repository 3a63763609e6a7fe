from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import PurePosixPath

import numpy as np
import pytest
import torch
from PIL import Image

from vsr.cli.upscale import main
from vsr.inference import VideoWriter, open_reader


def run_cli(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "vsr.cli.upscale", *map(str, args), "--threads", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def frames(n: int, h: int = 8, w: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


@pytest.fixture
def video(tmp_path) -> str:
    path = tmp_path / "in.mp4"
    with VideoWriter(path, 30, lossless=True) as writer:
        for frame in frames(5, 9, 7):
            writer.write(frame)
    return str(path)


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "--tile 256" in text and "--lossless" in text


def test_upscales_a_video_with_progress_and_summary(tmp_path, tiny_checkpoint, video, capsys):
    out = tmp_path / "out.mp4"
    assert (
        main([video, str(out), "--checkpoint", tiny_checkpoint, "--chunk", "2", "--overlap", "1"])
        == 0
    )
    stdout = capsys.readouterr().out
    assert "5/5" in stdout and "frames/s" in stdout
    assert "wrote" in stdout and "5 frames at 30 fps" in stdout
    with open_reader(out) as reader:
        assert reader.fps == 30
        assert [f.shape for f in reader] == [(36, 28, 3)] * 5


def test_wrong_checkpoint_is_one_clear_line(tmp_path, video):
    wrong = tmp_path / "random.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, wrong)
    done = run_cli(video, tmp_path / "out.mp4", "--checkpoint", wrong)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("vsr-upscale: error: ") and "random.pth" in lines[0]
    assert "no BasicVSR++ generator weights" in lines[0]
    assert not list(tmp_path.glob("out*"))

    not_torch = tmp_path / "notes.pth"
    not_torch.write_text("hello")
    assert main([video, str(tmp_path / "o.mp4"), "--checkpoint", str(not_torch)]) == 1
    with pytest.raises(Exception, match=r"notes\.pth"):
        main([video, str(tmp_path / "o.mp4"), "--checkpoint", str(not_torch), "--debug"])


def test_checkpoint_with_python_objects_needs_trust(tmp_path, tiny_checkpoint, video, capsys):
    with_objects = tmp_path / "with_objects.pth"
    sd = torch.load(tiny_checkpoint, weights_only=True)
    torch.save({"meta": {"source": PurePosixPath("/runs/x")}, "state_dict": sd}, with_objects)
    args = [video, str(tmp_path / "out.mp4"), "--checkpoint", str(with_objects), "--quiet"]
    assert main(args) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vsr-upscale: error: ")
    assert "with_objects.pth" in lines[0] and "--trust-checkpoint" in lines[0]
    assert not list(tmp_path.glob("out*"))
    assert main([*args, "--trust-checkpoint"]) == 0
    with open_reader(tmp_path / "out.mp4") as reader:
        assert len(list(reader)) == 5


def test_settings_are_refused_before_the_checkpoint_is_read(tmp_path, video, capsys):
    missing = tmp_path / "missing.pth"
    out = tmp_path / "o.mp4"
    args = [video, str(out), "--checkpoint", str(missing), "--chunk", "0"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("vsr-upscale: error: ") and "--chunk" in err and "missing" not in err
    assert main(args[:-2]) == 1
    assert "checkpoint not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*args[:-2], "--fps", "0"])
    assert exit_info.value.code == 2
    assert "frame rate must be positive" in capsys.readouterr().err
    assert not list(tmp_path.glob("o*"))


def test_corrupt_frame_names_the_file_and_keeps_a_playable_partial(
    tmp_path, tiny_checkpoint, capsys, caplog
):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, frame in enumerate(frames(8)):
        Image.fromarray(frame).save(folder / f"{i:03d}.png")
    (folder / "005.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    out = tmp_path / "out.mkv"
    args = [folder, out, "--checkpoint", tiny_checkpoint, "--chunk", "2", "--overlap", "1"]
    with caplog.at_level(logging.WARNING):
        assert main(list(map(str, args))) == 1
    err = capsys.readouterr().err
    assert err.startswith("vsr-upscale: error: ") and "005.png" in err
    assert "4 frames; the partial output is" in caplog.text and "out.partial.mkv" in caplog.text
    assert not out.exists()
    with open_reader(tmp_path / "out.partial.mkv") as reader:
        assert len(list(reader)) == 4


def test_refusals_exit_non_zero_and_touch_nothing(tmp_path, tiny_checkpoint, video, capsys):
    existing = tmp_path / "existing.mp4"
    existing.write_bytes(b"keep me")
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(frames(1)[0]).save(folder / "0.png")
    cases = {
        "exists; pass --overwrite": [video, existing],
        "would overwrite the input": [video, video, "--overwrite"],
        "inside the input frame folder": [folder, folder / "up.mp4"],
        "no image files": [tmp_path / "nothing", tmp_path / "o.mp4"],
        "needs a GPU": [video, tmp_path / "o.mp4", "--device", "cpu", "--precision", "fp16"],
        "--tile-overlap": [video, tmp_path / "o.mp4", "--tile", "16", "--tile-overlap", "16"],
        "--overlap": [video, tmp_path / "o.mp4", "--overlap", "-1"],
        "is a frame folder": [video, tmp_path / "o", "--crf", "18"],
        "no encoder": [video, tmp_path / "o.mp4", "--codec", "no-such-codec"],
    }
    (tmp_path / "nothing").mkdir()
    for message, args in cases.items():
        assert main([*map(str, args), "--checkpoint", tiny_checkpoint]) == 1, message
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in folder.iterdir()) == ["0.png"]
    assert not list(tmp_path.glob("o*"))


@pytest.mark.slow
def test_killed_run_leaves_a_playable_partial_video(tmp_path, tiny_checkpoint):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, frame in enumerate(frames(200)):
        Image.fromarray(frame).save(folder / f"{i}.png")
    out, partial = tmp_path / "out.mkv", tmp_path / "out.partial.mkv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [
        folder,
        out,
        "--checkpoint",
        tiny_checkpoint,
        "--chunk",
        "2",
        "--overlap",
        "1",
        "--quiet",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "vsr.cli.upscale", *map(str, args)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 100
    while not partial.exists():  # created with the first output frame
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted" in stderr and "out.partial.mkv" in stderr
    assert not out.exists()
    with open_reader(partial) as reader:
        assert 0 < len(list(reader)) < 200


def test_scene_cut_list_is_read_or_named(tmp_path, tiny_checkpoint, video, capsys):
    (tmp_path / "cuts.txt").write_text("2\n")
    args = [video, "--checkpoint", tiny_checkpoint, "--scene-cuts"]
    assert main([args[0], str(tmp_path / "a.mp4"), *args[1:], str(tmp_path / "cuts.txt")]) == 0
    assert main([args[0], str(tmp_path / "b.mp4"), *args[1:], str(tmp_path / "none.txt")]) == 1
    assert "scene-cut list" in capsys.readouterr().err and not (tmp_path / "b.mp4").exists()


@pytest.mark.parametrize(("native_bf16", "expected"), [(True, "bf16"), (False, "fp32")])
def test_report_summarises_the_run(
    tmp_path, tiny_checkpoint, video, monkeypatch, native_bf16, expected
):
    # The default precision, auto, is bf16 on a CPU with native bf16 and fp32 on others.
    monkeypatch.setattr("vsr.inference.upscale.cpu_supports_bf16", lambda: native_bf16)
    report = tmp_path / "run.json"
    out = tmp_path / "out.mp4"
    args = [video, str(out), "--checkpoint", tiny_checkpoint, "--report", str(report), "--quiet"]
    assert main([*args, "--scene-cuts", "off"]) == 0
    summary = json.loads(report.read_text())
    with open_reader(out) as reader:
        written = sum(1 for _ in reader)
    assert summary["frames"] == written == 5 and summary["precision"] == expected
    assert summary["scene_cuts"] == [] and summary["streams"] == []
    assert summary["device"].startswith("cpu") and summary["output"] == str(out)
    assert summary["backend"] == "pytorch"
