"""Training callbacks and plug-ins."""

from vsr.callbacks.checkpoint_io import AtomicCheckpointIO, atomic_torch_save
from vsr.callbacks.checkpoints import Checkpoints, Preempted, newest_readable
from vsr.callbacks.csv_log import CSVLogger
from vsr.callbacks.nonfinite import NonFinite
from vsr.callbacks.sample_images import SampleImages

__all__ = [
    "AtomicCheckpointIO",
    "CSVLogger",
    "Checkpoints",
    "NonFinite",
    "Preempted",
    "SampleImages",
    "atomic_torch_save",
    "newest_readable",
]
