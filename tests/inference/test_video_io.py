from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from vsr.frames import natural_key
from vsr.inference.video_io import (
    FolderReader,
    FolderWriter,
    VideoIOError,
    VideoWriter,
    check_fps,
    check_paths,
    check_writer_settings,
    open_reader,
    open_writer,
    partial_path,
)

from .helpers import photo_clip, psnr, random_frames


def read_video(path) -> tuple[list[np.ndarray], Fraction]:
    with open_reader(path) as reader:
        return list(reader), reader.fps


# ------------------------------------------------------------------------------ frame folders


def test_natural_order_and_only_visible_images(tmp_path):
    names = ["frame10.png", "frame2.png", "Frame1.jpg", "frame2b.png", "frame02x.bmp"]
    for i, name in enumerate(names):
        Image.fromarray(np.full((4, 6, 3), i, np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a frame")
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / ".hidden.png")
    (tmp_path / "sub.png").mkdir()

    reader = FolderReader(tmp_path)
    assert [p.name for p in reader.files] == [
        "Frame1.jpg",
        "frame2.png",
        "frame2b.png",
        "frame02x.bmp",
        "frame10.png",
    ]
    assert reader.num_frames == 5 and reader.fps is None
    assert sorted(["a10", "a9", "a09b", "b1"], key=natural_key) == ["a9", "a09b", "a10", "b1"]


def test_folder_frames_come_back_as_rgb_whatever_the_image_mode(tmp_path):
    rgb = random_frames(1, 5, 7)[0]
    Image.fromarray(rgb).save(tmp_path / "0.png")
    Image.fromarray(np.concatenate([rgb, np.full((5, 7, 1), 255, np.uint8)], -1)).save(
        tmp_path / "1.png"
    )
    Image.fromarray(rgb[..., 0]).save(tmp_path / "2.png")  # greyscale
    frames = list(FolderReader(tmp_path))
    assert [f.shape for f in frames] == [(5, 7, 3)] * 3
    np.testing.assert_array_equal(frames[0], rgb)
    np.testing.assert_array_equal(frames[1], rgb)
    np.testing.assert_array_equal(frames[2], np.repeat(rgb[..., :1], 3, axis=-1))


def test_corrupt_or_mismatched_frames_name_the_file(tmp_path):
    for i, frame in enumerate(random_frames(2, 8, 8)):
        Image.fromarray(frame).save(tmp_path / f"{i}.png")
    (tmp_path / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    frames = iter(FolderReader(tmp_path))
    assert next(frames).shape == (8, 8, 3)  # read lazily: the error comes when frame 2 is reached
    next(frames)
    with pytest.raises(VideoIOError, match=r"2\.png"):
        next(frames)

    (tmp_path / "2.png").unlink()
    Image.fromarray(random_frames(1, 9, 8)[0]).save(tmp_path / "3.png")
    with pytest.raises(VideoIOError, match=r"3\.png is 8x9"):
        list(FolderReader(tmp_path))


def test_folder_writer_names_frames_by_index_and_renames_when_done(tmp_path):
    out = tmp_path / "frames"
    frames = random_frames(3, 6, 5)
    with FolderWriter(out) as writer:
        for frame in frames:
            writer.write(frame)
        assert not out.exists() and (tmp_path / "frames.partial").is_dir()
    assert sorted(p.name for p in out.iterdir()) == ["00000000.png", "00000001.png", "00000002.png"]
    assert not (tmp_path / "frames.partial").exists()
    for frame, back in zip(frames, FolderReader(out), strict=True):
        np.testing.assert_array_equal(back, frame)


# ------------------------------------------------------------------------------------- videos


@pytest.mark.parametrize(("ext", "codec"), [("mp4", None), ("mkv", None), ("mkv", "ffv1")])
def test_lossless_video_round_trip_is_exact(tmp_path, ext, codec):
    frames = random_frames(6, 17, 23)  # odd sides, noise: the hardest case for an encoder
    path = tmp_path / f"clip.{ext}"
    fps = Fraction(30000, 1001)
    with VideoWriter(path, fps, codec=codec, lossless=True) as writer:
        for frame in frames:
            writer.write(frame)
    back, back_fps = read_video(path)
    assert back_fps == fps
    assert len(back) == len(frames)
    for a, b in zip(back, frames, strict=True):
        np.testing.assert_array_equal(a, b)


def test_lossy_video_is_close_and_keeps_rate_and_count(tmp_path):
    gt, _ = photo_clip(8, 64)
    path = tmp_path / "clip.mp4"
    with open_writer(path, 24) as writer:
        for frame in gt:
            writer.write(frame)
    with open_reader(path) as reader:
        assert reader.fps == 24 and reader.num_frames == 8
        back = list(reader)
    assert len(back) == 8
    assert psnr(back, gt) > 35


def test_odd_sizes_are_padded_for_yuv420p(tmp_path):
    path = tmp_path / "odd.mp4"
    frame = random_frames(1, 17, 23)[0]
    with (
        pytest.warns(UserWarning, match="23x17 frames are padded to 24x18"),
        VideoWriter(path) as w,
    ):
        w.write(frame)
    back, fps = read_video(path)
    assert fps == 25
    assert back[0].shape == (18, 24, 3)


def test_failed_write_leaves_a_playable_partial_video_only(tmp_path):
    out = tmp_path / "out.mp4"
    frames = random_frames(5, 16, 16)
    with pytest.raises(RuntimeError, match="disk on fire"), VideoWriter(out) as writer:
        for frame in frames:
            writer.write(frame)
        raise RuntimeError("disk on fire")
    assert not out.exists()
    partial = tmp_path / "out.partial.mp4"
    assert partial_path(out) == partial
    back, _ = read_video(partial)
    assert len(back) == 5


def test_failure_before_any_frame_leaves_nothing(tmp_path):
    for out in (tmp_path / "out.mkv", tmp_path / "frames"):
        with pytest.raises(RuntimeError), open_writer(out):
            raise RuntimeError("no frames")
        assert list(tmp_path.iterdir()) == []
        with pytest.raises(VideoIOError, match="no frames were written"), open_writer(out):
            pass
        assert list(tmp_path.iterdir()) == []


def test_unreadable_or_videoless_files_name_the_file(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoIOError, match=r"garbage\.mp4"):
        open_reader(garbage)

    audio = tmp_path / "audio.mkv"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(VideoIOError, match=r"audio\.mkv has no video stream"):
        open_reader(audio)


def test_video_settings_are_checked(tmp_path):
    with pytest.raises(ValueError, match="no encoder"):
        VideoWriter(tmp_path / "a.mp4", codec="no-such-codec")
    with pytest.raises(ValueError, match="exclude"):
        VideoWriter(tmp_path / "a.mp4", crf=10, lossless=True)
    with pytest.raises(ValueError, match="lossless output needs"):
        VideoWriter(tmp_path / "a.mp4", codec="mpeg4", lossless=True)
    with pytest.raises(ValueError, match="frame folder"):
        open_writer(tmp_path / "frames", codec="libx264")
    with pytest.raises(ValueError, match="frame rate must be positive"):
        VideoWriter(tmp_path / "a.mp4", fps=0)
    assert not list(tmp_path.iterdir())


def test_writer_settings_are_checked_without_writing(tmp_path):
    check_writer_settings(tmp_path / "a.mkv", codec="ffv1", lossless=True)
    check_writer_settings(tmp_path / "frames")
    with pytest.raises(ValueError, match="exclude"):
        check_writer_settings(tmp_path / "a.mp4", crf=10, lossless=True)
    with pytest.raises(ValueError, match="frame folder"):
        check_writer_settings(tmp_path / "frames", crf=18)
    assert not list(tmp_path.iterdir())


def test_frame_rates():
    assert check_fps("30000/1001") == Fraction(30000, 1001)
    assert check_fps(25) == 25
    assert check_fps(29.97) == Fraction(2997, 100)
    for bad in ("0", -25, "1/0", "fast"):
        with pytest.raises(ValueError, match="frame rate"):
            check_fps(bad)


# -------------------------------------------------------------------------------------- paths


def test_paths_that_would_destroy_the_input_are_refused(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"x")
    folder = tmp_path / "frames"
    folder.mkdir()
    with pytest.raises(ValueError, match="overwrite the input"):
        check_paths(video, tmp_path / "." / "in.mp4", overwrite=True)
    with pytest.raises(ValueError, match="inside the input frame folder"):
        check_paths(folder, folder / "up.mp4", overwrite=True)
    with pytest.raises(ValueError, match="overwrite the input"):
        check_paths(folder, folder, overwrite=True)
    with pytest.raises(ValueError, match="replace a folder holding the input"):
        check_paths(video, tmp_path, overwrite=True)
    partial_named = tmp_path / "up.partial.mp4"
    partial_named.write_bytes(b"x")
    with pytest.raises(ValueError, match="overwrite the input"):
        check_paths(partial_named, tmp_path / "up.mp4")
    with pytest.raises(FileExistsError, match="--overwrite"):
        check_paths(folder, video)
    with pytest.raises(FileNotFoundError, match="missing"):
        check_paths(tmp_path / "missing.mp4", tmp_path / "out.mp4")
    assert check_paths(video, tmp_path / "out.mp4") == (video, tmp_path / "out.mp4")
