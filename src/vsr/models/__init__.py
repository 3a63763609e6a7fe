"""Training recipes: the LightningModule and its losses."""

from vsr.models.losses import CharbonnierLoss
from vsr.models.vsr_module import VSRModule

__all__ = ["CharbonnierLoss", "VSRModule"]
