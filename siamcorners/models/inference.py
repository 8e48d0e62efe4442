"""Moved to :mod:`siamcorners.models.runtime` (the ways of running the network); kept as an import alias."""
from .runtime.optimised import InferenceSiamCorners, fold_batchnorm, fold_conv_bn  # noqa: F401
from .runtime.settings import AMP_MODES, InferenceSettings  # noqa: F401
