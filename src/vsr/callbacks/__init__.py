"""Training callbacks and plug-ins."""

from vsr.callbacks.checkpoint_io import AtomicCheckpointIO, atomic_torch_save
from vsr.callbacks.sample_images import SampleImages

__all__ = ["AtomicCheckpointIO", "SampleImages", "atomic_torch_save"]
