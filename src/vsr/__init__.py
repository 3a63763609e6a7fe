"""vsr: BasicVSR++ video super-resolution with PyTorch Lightning and Hydra."""

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["BasicVSRPlusPlus", "load_generator"]

if TYPE_CHECKING:
    from vsr.nn import BasicVSRPlusPlus, load_generator


def __getattr__(name: str):
    # Lazy, so `import vsr.data` or a CLI's --help does not pay for importing the network.
    if name in __all__:
        import vsr.nn

        return getattr(vsr.nn, name)
    raise AttributeError(f"module 'vsr' has no attribute {name!r}")
