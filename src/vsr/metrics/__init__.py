"""Image and video quality metrics (PSNR, SSIM) following the BasicVSR++ evaluation protocol.

* :func:`calculate_psnr`, :func:`calculate_ssim`, :func:`rgb_to_y`: numpy, on uint8 images.
* :func:`frame_psnr`, :func:`frame_ssim`: torch, per frame, on float tensors in [0, 1] that are
  rounded to uint8 levels first; they agree with the numpy functions.
* :class:`VideoPSNR`, :class:`VideoSSIM`: torchmetrics metrics, per frame -> per clip -> mean
  over clips, DDP-safe.
* :func:`scored_outputs`: a clip's predictions of its scored GT frames (`pred_index`).
"""

from typing import TYPE_CHECKING

from vsr.metrics.image import calculate_psnr, calculate_ssim, rgb_to_y

__all__ = [
    "VideoPSNR",
    "VideoSSIM",
    "calculate_psnr",
    "calculate_ssim",
    "frame_psnr",
    "frame_ssim",
    "rgb_to_y",
    "rgb_to_y_levels",
    "scored_outputs",
    "to_uint8_levels",
]

_LAZY = {
    "frame_psnr": "vsr.metrics.functional",
    "frame_ssim": "vsr.metrics.functional",
    "rgb_to_y_levels": "vsr.metrics.functional",
    "to_uint8_levels": "vsr.metrics.functional",
    "VideoPSNR": "vsr.metrics.video",
    "VideoSSIM": "vsr.metrics.video",
    "scored_outputs": "vsr.metrics.scoring",
}

if TYPE_CHECKING:
    from vsr.metrics.functional import frame_psnr, frame_ssim, rgb_to_y_levels, to_uint8_levels
    from vsr.metrics.scoring import scored_outputs
    from vsr.metrics.video import VideoPSNR, VideoSSIM


def __getattr__(name: str):
    # Lazy, so scoring saved images with numpy does not pay for importing torch and torchmetrics.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vsr.metrics' has no attribute {name!r}")
