"""Online tracking: the SiamCorners tracker and its post-processing functions."""
from .tracker import SiamCornersTracker

__all__ = ["SiamCornersTracker"]
