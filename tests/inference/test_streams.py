"""Sound carried from the input video into the output, in sync (real encoders, real files)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch import nn

from vsr.inference import upscale_video

FPS, RATE, FRAMES = 25, 48000, 20


class Brighter(nn.Module):
    """A same-size "model": fast, and its output differs from its input."""

    scale = 1

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        return (lqs + 0.1).clamp(0, 1)


def make_video(path: Path, audio_codec: str, sample_fmt: str = "s16") -> np.ndarray:
    """A 20-frame video with a 440 Hz tone as long as the picture; returns the tone."""
    t = np.arange(RATE * FRAMES // FPS) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    samples = (
        (tone * 32767).astype(np.int16)
        if sample_fmt == "s16"
        else (tone * 127 + 128).astype(np.uint8)
    )
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 48, 32, "yuv420p"
        audio = container.add_stream(audio_codec, rate=RATE)
        audio.layout = "mono"
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(
                np.full((32, 48, 3), 10 * i, np.uint8), format="rgb24"
            )
            frame.pts = i
            container.mux(video.encode(frame))
        for start in range(0, len(samples), 1024):
            chunk = av.AudioFrame.from_ndarray(
                samples[None, start : start + 1024], format=sample_fmt, layout="mono"
            )
            chunk.sample_rate, chunk.pts = RATE, start
            container.mux(audio.encode(chunk))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    return samples


def decoded(path: Path) -> tuple[int, str | None, np.ndarray | None]:
    """Video frame count, audio codec and the decoded audio samples of a file."""
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return frames, None, None
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
    return frames, codec, audio


@pytest.mark.parametrize(
    ("source", "codec", "output", "expected_codec"),
    [
        ("in.mp4", "aac", "out.mp4", "aac"),  # copied
        ("in.mkv", "pcm_s16le", "out.mkv", "pcm_s16le"),  # copied
        ("in.mkv", "pcm_u8", "out.mp4", "aac"),  # mp4 takes no 8-bit PCM: re-encoded
    ],
)
def test_the_sound_is_kept_with_the_picture(tmp_path, source, codec, output, expected_codec):
    sample_fmt = "u8" if codec == "pcm_u8" else "s16"
    tone = make_video(tmp_path / source, codec, sample_fmt)
    _, _, original = decoded(tmp_path / source)
    result = upscale_video(tmp_path / source, tmp_path / output, Brighter(), chunk=8, overlap=2)
    frames, out_codec, sound = decoded(tmp_path / output)
    assert frames == FRAMES and out_codec == expected_codec
    assert [s.action for s in result.streams] == (
        ["copied"] if expected_codec == codec else ["re-encoded to aac"]
    )
    # As long as the input's sound, to within one frame.
    assert abs(len(sound) - len(tone)) <= RATE // FPS
    if expected_codec == codec:  # copied: the very samples
        np.testing.assert_array_equal(sound, original)


def test_no_audio_leaves_the_sound_out(tmp_path):
    make_video(tmp_path / "in.mp4", "aac")
    result = upscale_video(tmp_path / "in.mp4", tmp_path / "out.mp4", Brighter(), audio=False)
    assert decoded(tmp_path / "out.mp4")[1] is None and result.streams == []


def test_a_rotated_phone_video_stays_rotated(tmp_path):
    with av.open(str(tmp_path / "phone.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.set_display_rotation(90)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(
                np.full((32, 48, 3), 40 * i, np.uint8), format="rgb24"
            )
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    upscale_video(tmp_path / "phone.mp4", tmp_path / "out.mp4", Brighter())
    with av.open(str(tmp_path / "out.mp4")) as container:
        frame = next(container.decode(video=0))
    assert frame.rotation == 90 and (frame.width, frame.height) == (48, 32)


class Same(nn.Module):
    """A same-size "model" that returns its input: the colours must come back as they were."""

    scale = 1

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        return lqs


def test_colour_range_matrix_primaries_and_transfer_are_kept(tmp_path):
    """A full-range BT.709 source (a phone's): the output is tagged the same and encoded with
    that matrix and range, so a player that reads the tags shows the input's colours. FFmpeg's
    defaults (BT.601, limited range, untagged) would shift these saturated colours by tens of
    levels when decoded as tagged."""
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, :16], rgb[:, 16:32], rgb[:, 32:] = (220, 30, 60), (20, 190, 240), (250, 240, 10)
    tags = (1, 2, 1, 1)  # BT.709 matrix, full range, BT.709 primaries and transfer
    with av.open(str(tmp_path / "in.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        context = stream.codec_context
        context.colorspace, context.color_range, context.color_primaries, context.color_trc = tags
        stream.options = {"qp": "0"}
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=2)
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    upscale_video(tmp_path / "in.mp4", tmp_path / "out.mp4", Same(), crf=0, scene_cuts="off")
    with av.open(str(tmp_path / "out.mp4")) as container:
        frame = next(container.decode(video=0))
    assert (frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc) == tags
    back = frame.to_ndarray(format="rgb24").astype(int)
    # Away from the colour edges (4:2:0 chroma), within the rounding of two YUV round trips
    # (measured: 5 levels); samples converted otherwise than tagged are off by 20 and more.
    for x in (4, 24, 40):
        assert np.abs(back[8:24, x : x + 4] - rgb[8:24, x : x + 4]).max() <= 6, x
