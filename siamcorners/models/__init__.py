"""Network modules of SiamCorners: backbone, neck, corner head, losses, decoding, checkpoints."""
from .siamcorners import SiamCorners, build_model

__all__ = ["SiamCorners", "build_model"]
