"""The BasicVSR++ network and its parts, in plain PyTorch (+ torchvision)."""

from vsr.nn.alignment import FlowGuidedDeformableAlignment, FlowWarpAlignment
from vsr.nn.basicvsrpp import BasicVSRPlusPlus
from vsr.nn.checkpoint import load_generator
from vsr.nn.spynet import SPyNet
from vsr.nn.warp import flow_warp

__all__ = [
    "BasicVSRPlusPlus",
    "FlowGuidedDeformableAlignment",
    "FlowWarpAlignment",
    "SPyNet",
    "flow_warp",
    "load_generator",
]
