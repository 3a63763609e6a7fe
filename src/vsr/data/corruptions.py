"""Corruptions of whole windows for same-size restoration: Gaussian noise and real video
compression, made on the fly from clean frames.

A corruption turns a (t, h, w, 3) uint8 window into the network's input, drawing what it
draws (a noise level, a CRF or QP) from the generator it is given: training passes the sample's
generator (seed, epoch, rank, index), evaluation `clip_rng(clip)`, so a test set is the same
every run. `downsample` names a BI/BD downsampling applied first (None: same size).

* `GaussianNoise`: RGB noise (each channel its own), sigma in the 0-255 scale, one sigma per
  window drawn from a range (BasicVSR++'s denoising recipe: U[0, 50]) or fixed (evaluation at
  sigma 50); the noisy frame is rounded and clipped to uint8, as a noisy 8-bit video is.
* `VideoCompression`: the window is encoded by a real encoder through PyAV (FFmpeg's libx264 or
  libx265, yuv420p, one thread so the bytes are the same every run) at a CRF (or a constant QP)
  drawn from a range, and decoded back: the artefacts a compressed-video enhancer is trained to
  remove, with the temporal structure of a real codec (I/P/B frames, motion compensation).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

__all__ = ["Corruption", "GaussianNoise", "VideoCompression", "clip_rng", "describe"]


def clip_rng(clip: str, salt: int = 0) -> np.random.Generator:
    """The generator of an evaluation clip's corruption: the same for a clip name every run."""
    return np.random.default_rng(np.random.SeedSequence([zlib.crc32(clip.encode()), salt, 0xC0]))


def describe(degradation: object) -> str:
    """A degradation in words, for logs and results: `bi`, `bd`, `noise sigma 50`, ..."""
    return degradation.describe() if isinstance(degradation, Corruption) else str(degradation)


def _setting(value: float | Sequence[float]) -> float | tuple[float, ...]:
    """A fixed value as it is, a [low, high] range as a tuple (hashable, one repr)."""
    return value if isinstance(value, int | float) else tuple(value)


def _range(value: float | Sequence[float], name: str, low: float, high: float):
    """(lo, hi) of a fixed value or a [lo, hi] range, checked against [low, high]."""
    if isinstance(value, int | float):
        lo = hi = float(value)
    else:
        values = [float(v) for v in value]
        if len(values) != 2:
            raise ValueError(f"{name} must be a number or a [low, high] pair, got {value!r}")
        lo, hi = values
    if not low <= lo <= hi <= high:
        raise ValueError(f"{name}={value!r} must lie in [{low:g}, {high:g}] with low <= high")
    return lo, hi


class Corruption:
    """A corruption of whole windows; see the module docstring.

    Plain classes (not dataclasses) so that Hydra instantiates them from any config node
    (OmegaConf cannot type a field that is a number or a pair).
    """

    downsample: str | None = None

    def _fields(self) -> tuple:
        return tuple(sorted(vars(self).items()))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._fields() == self._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), repr(self._fields())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        """A short name for logs and results (`noise sigma 50`)."""
        raise NotImplementedError


class GaussianNoise(Corruption):
    """Additive RGB Gaussian noise.

    Args:
        sigma: standard deviation in the 0-255 scale: a number, or a [low, high] range to draw
            one value per window from (uniformly).
        downsample: `bi` / `bd` to downsample first (None: same size).
    """

    def __init__(
        self, sigma: float | Sequence[float] = (0.0, 50.0), downsample: str | None = None
    ) -> None:
        _range(sigma, "sigma", 0, 255)
        self.sigma = _setting(sigma)
        self.downsample = downsample

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lo, hi = _range(self.sigma, "sigma", 0, 255)
        sigma = lo if lo == hi else float(rng.uniform(lo, hi))
        noise = rng.standard_normal(frames.shape, dtype=np.float32) * np.float32(sigma)
        return np.clip(np.rint(frames + noise), 0, 255).astype(np.uint8)

    def describe(self) -> str:
        lo, hi = _range(self.sigma, "sigma", 0, 255)
        return f"noise sigma {lo:g}" if lo == hi else f"noise sigma U[{lo:g}, {hi:g}]"


# Encoders and their decoders. Both take a CRF or a QP in [0, 51] (0 best, 51 worst).
_ENCODERS = {"libx264": "h264", "libx265": "hevc"}
_DEFAULT_CRF = (20, 35)


class VideoCompression(Corruption):
    """Encode and decode a window with a real video encoder (PyAV / FFmpeg).

    Args:
        codec: `libx264` (H.264) or `libx265` (H.265).
        crf: constant rate factor: a number, or a [low, high] range to draw one integer per
            window from. The default, [20, 35], when `qp` is not given either.
        preset: the encoder's speed preset (`veryfast`, `medium`, ...).
        gop: frames between key frames (None: the encoder's default).
        downsample: `bi` / `bd` to downsample first (None: same size).
        qp: a constant quantiser instead of a CRF, a number or a [low, high] range like
            `crf` (similar to the NTIRE 2021 fixed-QP tracks' clips, HEVC at QP 37, which were
            made with the HM reference encoder, not x265).

    Raises:
        ValueError: an unknown codec, both `crf` and `qp`, a value outside [0, 51], or
            settings the installed FFmpeg cannot encode (checked at once, on a tiny clip, not
            hours into training).
    """

    qp: int | tuple[int, int] | None = None  # files pickled before `qp` existed: a CRF

    def __init__(
        self,
        codec: str = "libx264",
        crf: int | Sequence[int] | None = None,
        preset: str = "veryfast",
        gop: int | None = None,
        downsample: str | None = None,
        *,
        qp: int | Sequence[int] | None = None,
    ) -> None:
        if crf is not None and qp is not None:
            raise ValueError(f"crf={crf!r} and qp={qp!r}: set one rate control, not both")
        if crf is None and qp is None:
            crf = _DEFAULT_CRF
        self.codec = codec
        self.crf = None if crf is None else _setting(crf)
        self.qp = None if qp is None else _setting(qp)
        self.preset = preset
        self.gop = gop
        self.downsample = downsample
        if self.codec not in _ENCODERS:
            raise ValueError(f"codec={self.codec!r}: expected one of {', '.join(_ENCODERS)}")
        name, rate = self._rate()
        lo, _ = _range(rate, name, 0, 51)
        try:
            import av
        except ImportError as err:  # pragma: no cover - av is a dependency
            raise ValueError("video compression needs PyAV: run `make install`") from err
        if self.codec not in av.codecs_available:
            raise ValueError(
                f"codec={self.codec!r}: the FFmpeg under the installed PyAV {av.__version__} "
                "has no such encoder"
            )
        try:
            self.encode(np.zeros((2, 16, 16, 3), np.uint8), int(lo))
        except Exception as err:
            raise ValueError(
                f"the installed FFmpeg cannot encode with codec={self.codec!r} "
                f"preset={self.preset!r} {name}={rate!r}: {err}"
            ) from err

    def _rate(self) -> tuple[str, int | tuple[int, int]]:
        """The rate control in use, `crf` or `qp`, and its value or range."""
        return ("qp", self.qp) if self.qp is not None else ("crf", self.crf)

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        name, rate = self._rate()
        lo, hi = _range(rate, name, 0, 51)
        value = int(lo) if lo == hi else int(rng.integers(int(lo), int(hi) + 1))
        return self.encode(frames, value)

    def encode(self, frames: np.ndarray, value: int) -> np.ndarray:
        """`frames` (t, h, w, 3) uint8 after encoding at CRF (or QP) `value` and decoding:
        same shape.

        Frames are padded by edge replication to a size the encoder takes, and cropped back:
        yuv420p needs even sizes; libx265 aborts the process on some small widths (48), so its
        input is padded to multiples of 32. libx264's input width is padded to a multiple of
        64: at a width of 96 its output for the same frames and CRF varied from one encode to
        the next on a loaded machine (up to half of them), at widths that are multiples of 64
        it did not (measured; the cause inside x264 or FFmpeg is not known).
        """
        import av

        t, h, w = frames.shape[:3]
        step_h, step_w = (32, 32) if self.codec == "libx265" else (2, 64)
        pad_h, pad_w = -h % step_h, -w % step_w
        padded = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        options = {self._rate()[0]: str(value), "preset": self.preset}
        if self.codec == "libx265":
            options["x265-params"] = "log-level=error:pools=none:frame-threads=1"
        # Codec contexts without a container, one thread each: the same frames every run.
        encoder = av.CodecContext.create(self.codec, "w")
        encoder.width, encoder.height = padded.shape[2], padded.shape[1]
        encoder.pix_fmt = "yuv420p"
        encoder.time_base, encoder.framerate = Fraction(1, 25), Fraction(25)
        encoder.thread_count = 1
        if self.gop is not None:
            encoder.gop_size = self.gop
        encoder.options = options
        packets = []
        for index, rgb in enumerate(padded):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            packets += encoder.encode(frame)
        packets += encoder.encode(None)
        decoder = av.CodecContext.create(_ENCODERS[self.codec], "r")
        decoder.thread_count = 1
        decoded = []
        for packet in [*packets, None]:
            decoded += [f.to_ndarray(format="rgb24") for f in decoder.decode(packet)]
        if len(decoded) != t:
            raise RuntimeError(f"{self.codec} returned {len(decoded)} frames for {t}")
        return np.stack(decoded)[:, :h, :w]

    def describe(self) -> str:
        name, rate = self._rate()
        lo, hi = _range(rate, name, 0, 51)
        value = f"{lo:g}" if lo == hi else f"U{{{lo:g}..{hi:g}}}"
        return f"{self.codec} {name} {value}"
