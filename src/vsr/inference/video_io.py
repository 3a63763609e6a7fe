"""Reading and writing frames: video files through PyAV and folders of images, one frame at a time.

Frames are uint8 (h, w, 3) RGB arrays. Readers decode lazily, so a video is never held in memory
whole. Writers write to a `.partial` sibling of the output (`out.partial.mp4`, `out.partial/`)
and rename it to the output only once every frame is written: an interrupted run leaves either
a playable partial video under the `.partial` name or nothing, never a complete-looking output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from vsr.frames import decode_image, list_frames

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".m4v")
DEFAULT_FPS = Fraction(25)
DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 18
# Encoders that take a constant-rate-factor quality setting.
_CRF_CODECS = ("libx264", "libx264rgb", "libx265", "libsvtav1", "libvpx-vp9")
# Lossless encoders: codec → (pixel format, options). libx264rgb at qp 0 is exact RGB in
# mp4/mkv/mov/avi; ffv1 (mkv, avi) is the archival alternative.
_LOSSLESS = {"libx264rgb": ("rgb24", {"qp": "0"}), "ffv1": ("bgr0", {})}


@dataclass(frozen=True)
class Colour:
    """How a video's YUV samples stand for colours, as FFmpeg numbers them: the matrix
    (`space`, 1 = BT.709, 5/6 = BT.601, 9 = BT.2020), the `range` (1 limited, 2 full), the
    `primaries` and the transfer characteristic (`trc`); 2 (0 for the range) is unspecified."""

    space: int
    range: int
    primaries: int
    trc: int

    @classmethod
    def of(cls, frame) -> Colour:
        """A decoded PyAV frame's colour description."""
        values = (frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc)
        return cls(*(int(v) for v in values))

    @property
    def specified(self) -> bool:
        """Whether the source says anything (else the encoder's defaults are kept)."""
        return self != Colour(2, 0, 2, 2)


class VideoIOError(Exception):
    """A file that cannot be read or written; the message names it."""


def is_video_path(path: str | Path) -> bool:
    """True if `path` names a video file (by its extension), False for a frame folder."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def partial_path(path: str | Path) -> Path:
    """Where output is written until complete: `out.partial.mp4` for `out.mp4`, `out.partial/`."""
    path = Path(path)
    if is_video_path(path):
        return path.with_name(f"{path.stem}.partial{path.suffix}")
    return path.with_name(path.name + ".partial")


def check_paths(src: str | Path, dst: str | Path, overwrite: bool = False) -> tuple[Path, Path]:
    """Refuse any output that could destroy the input, and existing outputs unless `overwrite`.

    Returns:
        The resolved (input, output) paths.

    Raises:
        FileNotFoundError: the input does not exist.
        FileExistsError: the output exists and `overwrite` is False.
        ValueError: the output (or its partial file) is the input, or lies inside the input
            folder, or would replace a folder holding the input.
    """
    src_r = Path(src).expanduser().resolve()
    dst_r = Path(dst).expanduser().resolve()
    if not src_r.exists():
        raise FileNotFoundError(f"input {src} does not exist")
    for out in (dst_r, partial_path(dst_r)):
        if out == src_r:
            raise ValueError(f"output {dst} would overwrite the input {src}")
        if src_r.is_dir() and out.is_relative_to(src_r):
            raise ValueError(f"output {dst} lies inside the input frame folder {src}")
        if src_r.is_relative_to(out):
            raise ValueError(f"output {dst} would replace a folder holding the input {src}")
    if dst_r.exists() and not overwrite:
        raise FileExistsError(f"output {dst} exists; pass --overwrite to replace it")
    return src_r, dst_r


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


# ------------------------------------------------------------------------------------- readers


class FrameReader:
    """Frames of a video file or an image folder, decoded one at a time.

    Attributes:
        path: the input.
        fps: frame rate (None for image folders, which have none).
        num_frames: frame count if known beforehand (image folders; most mp4/mov files), else None.
    """

    path: Path
    fps: Fraction | None
    num_frames: int | None

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoReader(FrameReader):
    """A video file's first video stream, decoded with PyAV."""

    def __init__(self, path: str | Path):
        import av

        self.path = Path(path)
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError) as err:
            reason = getattr(err, "strerror", None) or err
            raise VideoIOError(f"cannot read {self.path} as a video: {reason}") from err
        if not self._container.streams.video:
            self._container.close()
            raise VideoIOError(f"{self.path} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        self.fps = Fraction(rate) if rate else None
        self.num_frames = self._stream.frames or None
        self.rotation = 0.0  # the display rotation, in degrees, known once a frame is decoded
        self.colour: Colour | None = None  # known once a frame is decoded

    def __iter__(self) -> Iterator[np.ndarray]:
        import av

        index = 0
        try:
            for frame in self._container.decode(self._stream):
                if index == 0:
                    self.rotation = float(frame.rotation or 0)
                    self.colour = Colour.of(frame)
                # Converted with the frame's own matrix and range (FFmpeg reads both).
                yield frame.to_ndarray(format="rgb24")
                index += 1
        except (av.FFmpegError, OSError) as err:
            reason = getattr(err, "strerror", None) or err
            raise VideoIOError(f"cannot decode frame {index} of {self.path}: {reason}") from err

    def close(self) -> None:
        self._container.close()


class FolderReader(FrameReader):
    """Images of a folder, in natural order (`frame2` before `frame10`), as RGB."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder)
        self.files = list_frames(self.path)
        self.fps = None
        self.num_frames = len(self.files)

    def __iter__(self) -> Iterator[np.ndarray]:

        size = None
        for file in self.files:
            try:
                frame = decode_image(file, str(file))
            except OSError as err:  # names the file and Pillow's reason
                raise VideoIOError(str(err)) from err
            if size is not None and frame.shape != size:
                raise VideoIOError(
                    f"frame {file} is {frame.shape[1]}x{frame.shape[0]}, "
                    f"the frames before it {size[1]}x{size[0]}"
                )
            size = frame.shape
            yield frame


def open_reader(path: str | Path) -> FrameReader:
    """A reader for a video file or a folder of frames."""
    path = Path(path)
    if path.is_dir():
        return FolderReader(path)
    if not path.exists():
        raise VideoIOError(f"input {path} does not exist")
    return VideoReader(path)


# ------------------------------------------------------------------------------------- writers


class FrameWriter:
    """Writes frames to the partial path; `commit` renames it to the output.

    Used as a context manager, a clean exit commits; an exception closes the partial output
    properly (a video stays playable up to the last written frame) and keeps it, or removes it
    when no frame was written.

    Attributes:
        path: the final output.
        partial: where frames are written until `commit`.
        frames_written: frames written so far.
    """

    def __init__(self, path: str | Path, overwrite: bool = False):
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.overwrite = overwrite
        self.frames_written = 0
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"output {self.path} exists; pass --overwrite to replace it")
        if self.partial.exists() or self.partial.is_symlink():
            _remove(self.partial)  # left by an earlier interrupted run
        self.partial.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 (h, w, 3) RGB frame."""
        raise NotImplementedError

    def _close(self) -> None:
        """Finish the partial output so it is valid (flush the encoder, write the trailer)."""

    def commit(self) -> Path:
        """Close, and move the partial output to the final path; returns the final path."""
        self._close()
        if self.frames_written == 0:
            _remove(self.partial)
            raise VideoIOError(f"no frames were written to {self.path}")
        if self.path.exists() or self.path.is_symlink():
            if not self.overwrite:
                raise FileExistsError(
                    f"output {self.path} appeared while writing; the result is at {self.partial}"
                )
            _remove(self.path)
        self.partial.rename(self.path)
        return self.path

    def abort(self) -> Path | None:
        """Close after a failure; returns the partial output kept, or None if nothing was written."""
        # The failure being handled matters more than a second one while closing.
        with contextlib.suppress(Exception):
            self._close()
        if self.frames_written == 0:
            _remove(self.partial)
            return None
        return self.partial

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class FolderWriter(FrameWriter):
    """PNG files named by zero-padded frame index: `00000000.png`, `00000001.png`, ..."""

    def __init__(self, path: str | Path, overwrite: bool = False, compress_level: int = 1):
        super().__init__(path, overwrite)
        self.compress_level = compress_level
        self.partial.mkdir()

    def write(self, frame: np.ndarray) -> None:
        from PIL import Image

        file = self.partial / f"{self.frames_written:08d}.png"
        Image.fromarray(frame).save(file, compress_level=self.compress_level)
        self.frames_written += 1


def check_fps(fps: Fraction | float | str) -> Fraction:
    """A frame rate as a `Fraction` (`25`, `29.97`, `"30000/1001"`), checked positive.

    Raises:
        ValueError: not a number, or not positive.
    """
    try:
        value = Fraction(fps).limit_denominator(1_000_000)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueError(f"not a frame rate: {fps!r} (e.g. 25 or 30000/1001)") from None
    if value <= 0:
        raise ValueError(f"frame rate must be positive, got {fps} (CLI: --fps)")
    return value


def check_writer_settings(
    path: str | Path,
    *,
    codec: str | None = None,
    crf: int | None = None,
    pix_fmt: str | None = None,
    lossless: bool = False,
) -> None:
    """Refuse encoding settings that `open_writer(path, ...)` would refuse, writing nothing.

    Raises:
        ValueError: an encoder this PyAV build lacks, a pixel format it cannot encode, settings
            that exclude each other, or video settings for a frame folder.
    """
    if is_video_path(path):
        video_settings(codec, crf, pix_fmt, lossless)
    elif codec or crf is not None or pix_fmt or lossless:
        raise ValueError(
            f"{path} is a frame folder (PNG, lossless): codec, crf, pixel format and lossless "
            f"apply to video outputs ({', '.join(VIDEO_EXTENSIONS)})"
        )


def video_settings(
    codec: str | None, crf: int | None, pix_fmt: str | None, lossless: bool
) -> tuple[str, str, dict[str, str]]:
    """(codec, pixel format, encoder options) for the requested settings, checked."""
    import av

    if lossless:
        codec = codec or "libx264rgb"
        if codec not in _LOSSLESS:
            raise ValueError(f"lossless output needs one of {', '.join(_LOSSLESS)}, not {codec}")
        if crf is not None:
            raise ValueError("--crf and --lossless exclude each other")
        fmt, options = _LOSSLESS[codec]
        pix_fmt = pix_fmt or fmt
    else:
        if codec is None:
            codec = DEFAULT_CODEC if DEFAULT_CODEC in av.codecs_available else "mpeg4"
        options = {}
        if codec in _CRF_CODECS:
            options["crf"] = str(DEFAULT_CRF if crf is None else crf)
        elif crf is not None:
            raise ValueError(f"--crf applies to {', '.join(_CRF_CODECS)}, not {codec}")
        pix_fmt = pix_fmt or ("rgb24" if codec == "libx264rgb" else "yuv420p")
    try:
        encoder = av.Codec(codec, "w")
    except (av.FFmpegError, ValueError) as err:
        known = ("libx264", "libx264rgb", "libx265", "libsvtav1", "libvpx-vp9", "ffv1", "mpeg4")
        have = ", ".join(c for c in known if c in av.codecs_available)
        raise ValueError(f"this PyAV build has no encoder {codec!r}; it has {have}") from err
    formats = [f.name for f in encoder.video_formats or ()]
    if encoder.type != "video":
        raise ValueError(f"{codec} is not a video encoder")
    if formats and pix_fmt not in formats:
        raise ValueError(f"{codec} cannot encode {pix_fmt}; it takes {', '.join(formats)}")
    return codec, pix_fmt, options


class VideoWriter(FrameWriter):
    """A video file encoded with PyAV as frames arrive (the container opens at the first frame).

    Args:
        path: output file; its extension picks the container.
        fps: frame rate.
        codec: encoder name (default libx264, or libx264rgb when lossless).
        crf: constant rate factor for x264/x265/AV1/VP9 (default 18; lower is better).
        pix_fmt: encoder pixel format (default yuv420p; rgb24 for libx264rgb).
        lossless: encode exactly (libx264rgb at qp 0, or ffv1).
        overwrite: replace an existing output when complete.
        carry_from: a source video whose audio and subtitle streams `commit` muxes in
            (`vsr.inference.streams.carry_streams`); None: the picture only.
        rotation: display rotation in degrees (a phone video's), kept as the input's: the
            frames stay as stored and players turn them.
        colour: the source's colour description (`VideoReader.colour`): a YUV output is
            converted from RGB with its matrix and range and tagged with it, primaries and
            transfer included; None (or unspecified): FFmpeg's defaults, untagged.

    Attributes:
        carried: after `commit`, what was done with each of `carry_from`'s other streams.
    """

    def __init__(
        self,
        path: str | Path,
        fps: Fraction | float = DEFAULT_FPS,
        *,
        codec: str | None = None,
        crf: int | None = None,
        pix_fmt: str | None = None,
        lossless: bool = False,
        overwrite: bool = False,
        carry_from: str | Path | None = None,
        rotation: float = 0.0,
        colour: Colour | None = None,
    ):
        self.codec, self.pix_fmt, self.options = video_settings(codec, crf, pix_fmt, lossless)
        self.rotation = rotation
        yuv = self.pix_fmt.startswith(("yuv", "nv"))
        self.colour = colour if colour is not None and colour.specified and yuv else None
        self.fps = check_fps(fps)
        super().__init__(path, overwrite)
        self._container = self._stream = None
        self._pad = (0, 0)
        self.carry_from = Path(carry_from) if carry_from is not None else None
        self.carried: list = []

    def commit(self) -> Path:
        """Close, mux in the source's sound and subtitles, and move the result to the output."""
        self._close()
        if self.carry_from is not None and self.frames_written:
            from vsr.inference.streams import carry_streams

            muxed = self.partial.with_name(f".{self.partial.stem}.mux{self.partial.suffix}")
            try:
                self.carried = carry_streams(self.carry_from, self.partial, muxed)
            except BaseException as err:
                muxed.unlink(missing_ok=True)
                raise VideoIOError(
                    f"cannot add the sound of {self.carry_from} to {self.partial} (the picture "
                    f"is there, without sound): {err}"
                ) from err
            os.replace(muxed, self.partial)
        return super().commit()

    def _open(self, height: int, width: int) -> None:
        import av

        # 4:2:0 and 4:2:2 formats need even sides: odd frames get one replicated row/column.
        subsampled = self.pix_fmt.startswith(("yuv420", "yuvj420", "nv12", "nv21", "yuv422"))
        if subsampled and (height % 2 or width % 2):
            self._pad = (height % 2, width % 2)
            warnings.warn(
                f"{self.pix_fmt} needs even frame sides; {width}x{height} frames are padded to "
                f"{width + width % 2}x{height + height % 2} by repeating the last column/row "
                "(use --lossless or --pix-fmt yuv444p to keep the size)",
                stacklevel=3,
            )
        self._container = av.open(str(self.partial), "w")
        stream = self._container.add_stream(self.codec, rate=self.fps)
        stream.width, stream.height = width + self._pad[1], height + self._pad[0]
        stream.pix_fmt = self.pix_fmt
        stream.options = self.options
        if self.rotation:
            stream.set_display_rotation(self.rotation)
        if self.colour is not None:
            context = stream.codec_context
            context.colorspace, context.color_range = self.colour.space, self.colour.range
            context.color_primaries, context.color_trc = self.colour.primaries, self.colour.trc
        if self.codec not in _CRF_CODECS and self.codec not in _LOSSLESS:
            # Encoders without a quality factor get a generous bit rate (0.3 bit per pixel).
            stream.bit_rate = int(0.3 * stream.width * stream.height * float(self.fps))
        self._stream = stream

    def write(self, frame: np.ndarray) -> None:
        import av

        if self._container is None:
            self._open(*frame.shape[:2])
        if any(self._pad):
            frame = np.pad(frame, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        if self.colour is not None:  # the matrix and range the stream is tagged with
            video_frame = video_frame.reformat(
                format=self.pix_fmt,
                dst_colorspace=self.colour.space,
                dst_color_range=self.colour.range,
            )
        video_frame.pts = self.frames_written
        try:
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as err:
            raise VideoIOError(
                f"cannot write frame {self.frames_written} to {self.partial}: {err}"
            ) from err
        self.frames_written += 1

    def _close(self) -> None:
        if self._container is None:
            return
        container, self._container = self._container, None
        try:
            for packet in self._stream.encode():  # flush the encoder's delayed frames
                container.mux(packet)
        finally:
            container.close()


def open_writer(
    path: str | Path,
    fps: Fraction | float | None = None,
    *,
    codec: str | None = None,
    crf: int | None = None,
    pix_fmt: str | None = None,
    lossless: bool = False,
    overwrite: bool = False,
    carry_from: str | Path | None = None,
    rotation: float = 0.0,
    colour: Colour | None = None,
) -> FrameWriter:
    """A `VideoWriter` if `path` has a video extension, else a `FolderWriter` of PNGs (which
    carries no sound)."""
    if is_video_path(path):
        return VideoWriter(
            path,
            fps or DEFAULT_FPS,
            codec=codec,
            crf=crf,
            pix_fmt=pix_fmt,
            lossless=lossless,
            overwrite=overwrite,
            carry_from=carry_from,
            rotation=rotation,
            colour=colour,
        )
    check_writer_settings(path, codec=codec, crf=crf, pix_fmt=pix_fmt, lossless=lossless)
    return FolderWriter(path, overwrite)
