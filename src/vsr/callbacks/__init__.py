"""Training callbacks."""

from vsr.callbacks.sample_images import SampleImages

__all__ = ["SampleImages"]
