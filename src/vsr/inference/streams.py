"""The input video's other streams (sound, subtitles) carried into the output, in sync.

The upscaled picture is encoded as a stream, alone; once it is complete, `carry_streams` muxes
it (its packets copied, not re-encoded) with the source's audio and subtitle streams into the
final file:

* audio is copied as it is when the output container accepts its codec, and re-encoded to AAC
  otherwise (e.g. PCM into .mp4);
* subtitles are copied when the container accepts their codec, otherwise left out with a
  warning (PyAV cannot convert subtitle formats);
* timestamps are shifted by the source video's start time, so sound and picture keep the
  offset they had.
"""

from __future__ import annotations

import heapq
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

__all__ = ["CarriedStream", "carry_streams", "has_other_streams"]


@dataclass(frozen=True)
class CarriedStream:
    """What happened to one of the source's streams.

    Attributes:
        kind: `audio` or `subtitle`.
        codec: the source's codec name.
        action: `copied`, `re-encoded to aac`, or `left out: <why>`.
    """

    kind: str
    codec: str
    action: str


# FFmpeg's default layout for a channel count.
_NAMED_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}


def has_other_streams(source: str | Path) -> bool:
    """Whether a video file has audio or subtitle streams to carry."""
    import av

    with av.open(str(source)) as container:
        return bool(container.streams.audio or container.streams.subtitles)


def _seconds(packet) -> float:
    time = packet.pts if packet.pts is not None else packet.dts
    return float(time * packet.time_base) if time is not None else 0.0


def _packets(container, *streams) -> Iterator:
    """The packets of `streams`, without the demuxer's empty flush packets."""
    for packet in container.demux(*streams):
        if packet.size or packet.pts is not None:
            yield packet


def carry_streams(source: str | Path, video: str | Path, output: str | Path) -> list[CarriedStream]:
    """Write `output`: the video stream of `video` and the audio and subtitle streams of `source`.

    Args:
        source: the original video file.
        video: the upscaled video (one video stream), as written by `VideoWriter`.
        output: the file to write; its extension picks the container.

    Returns:
        One entry per audio or subtitle stream of the source, saying what was done with it.
    """
    import av

    report: list[CarriedStream] = []
    with av.open(str(source)) as src, av.open(str(video)) as vid, av.open(str(output), "w") as dst:
        v_in = vid.streams.video[0]
        v_out = dst.add_stream_from_template(v_in)
        src_video = src.streams.video[0] if src.streams.video else None
        start = (
            Fraction(src_video.start_time) * src_video.time_base
            if src_video is not None and src_video.start_time is not None
            else Fraction(0)
        )
        carried = {}  # source stream index -> (output stream, encoder state or None)
        for stream in src.streams.audio:
            name = stream.codec_context.name
            if name in dst.supported_codecs:
                carried[stream.index] = (dst.add_stream_from_template(stream), None)
                report.append(CarriedStream("audio", name, "copied"))
            else:
                out = dst.add_stream("aac", rate=stream.rate or 48000)
                # The standard layout of that many channels: AAC refuses an unnamed one.
                channels = len(stream.layout.channels)
                out.layout = _NAMED_LAYOUTS.get(channels, f"{channels}c")
                resampler = av.AudioResampler(format=out.format, layout=out.layout, rate=out.rate)
                carried[stream.index] = (out, resampler)
                report.append(CarriedStream("audio", name, "re-encoded to aac"))
        for stream in src.streams.subtitles:
            name = stream.codec_context.name
            if name in dst.supported_codecs:
                carried[stream.index] = (dst.add_stream_from_template(stream), None)
                report.append(CarriedStream("subtitle", name, "copied"))
            else:
                why = f"{dst.format.name} does not take {name} subtitles"
                report.append(CarriedStream("subtitle", name, f"left out: {why}"))
                warnings.warn(f"{source}: subtitle stream {stream.index} {why}", stacklevel=2)
        others = [s for s in src.streams if s.index in carried]
        merged = heapq.merge(
            ((_seconds(p), 0, i, p) for i, p in enumerate(_packets(vid, v_in))),
            ((_seconds(p) - float(start), 1, i, p) for i, p in enumerate(_packets(src, *others))),
        )
        for _, origin, _, packet in merged:
            if origin == 0:
                packet.stream = v_out
                dst.mux(packet)
                continue
            out, resampler = carried[packet.stream.index]
            shift = int(start / packet.time_base)
            if resampler is None:
                if packet.pts is not None:
                    packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = out
                dst.mux(packet)
            else:
                for frame in packet.decode():
                    frame.pts = None  # the encoder counts samples from the start
                    for resampled in resampler.resample(frame):
                        dst.mux(out.encode(resampled))
        for out, resampler in carried.values():
            if resampler is not None:
                for resampled in resampler.resample(None):
                    dst.mux(out.encode(resampled))
                dst.mux(out.encode(None))
    return report
