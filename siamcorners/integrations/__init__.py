"""Run SiamCorners inside the toolkits researchers already use.

- :mod:`siamcorners.integrations.got10k`: ``GOT10kTracker`` (a ``got10k.trackers.Tracker`` for every got10k
  experiment) and ``Got10kTrackerAdapter`` (a user's got10k tracker in ``tools/test.py --tracker-factory``).
- :mod:`siamcorners.integrations.vot`: a TraX tracker for the VOT challenge toolkit
  (``python -m siamcorners.integrations.vot --cfg CFG --snapshot SNAP``; ``--print-ini`` prints its
  ``trackers.ini`` entry).
- :mod:`siamcorners.integrations.regions`: region conversions shared by both (polygon -> axis-aligned box).
- :mod:`siamcorners.integrations.images`: PIL / path / RGB array frames -> the tracker's BGR arrays.

The third-party packages are optional (``pip install -e ".[vot]"``; got10k is a runtime dependency); each
module imports its package on first use and says which extra to install when it is missing.
"""
from .common import build_tracker

__all__ = ["build_tracker"]
