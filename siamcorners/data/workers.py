"""Start-up of a forked worker process that handles images: DataLoader workers of the training data, and the
process pool of the data-preparation tools.

Workers are forked (Linux): the child inherits the parent's memory, the training index included, for free, but
not the parent's threads. A library whose thread pool was in use in the parent keeps that pool's bookkeeping
(and any mutex a pool thread held at the fork) in the child, where the threads no longer exist. OpenCV's
pthreads pool is such a pool, and every crop goes through ``cv2.warpAffine``. ``cv2.setNumThreads(0)`` makes
OpenCV run each call on the calling thread without touching the pool again, so a worker can never wait for a
thread that is gone; it is also the thread count we want: one per worker, as PyTorch already sets for torch
(the loader spreads the work over workers, not over threads inside one).
"""
from __future__ import annotations

import random

import cv2
import numpy as np
import torch

__all__ = ["opencv_on_calling_thread", "init_data_worker"]


def opencv_on_calling_thread() -> None:
    """Run every OpenCV call of this process on the thread that makes it (the start-up of a forked worker)."""
    cv2.setNumThreads(0)


def init_data_worker(worker_id: int) -> None:
    """``worker_init_fn`` for training loaders: OpenCV on the calling thread only, and ``random`` /
    ``np.random`` seeded from the worker's torch seed (the loader's base seed + ``worker_id``)."""
    opencv_on_calling_thread()
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
