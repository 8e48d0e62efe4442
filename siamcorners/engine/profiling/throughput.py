"""Data-loading throughput (samples/s per worker) of the training pipeline, and a fake crop511 dataset
to measure it on (used by ``tools/benchmark.py data`` and by the tests)."""
from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Dict, List, Mapping, Optional, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from siamcorners.data.workers import init_data_worker

__all__ = ["write_fake_crop_dataset", "measure_throughput", "data_benchmark"]


def write_fake_crop_dataset(out_dir: str, videos: int = 4, frames: int = 8, tracks: int = 1, seed: int = 0,
                            instance_size: int = 511) -> Dict[str, str]:
    """A small crop511 dataset: textured noise with a bright target box centred in each crop.

    Returns {"root": crop folder, "anno": json path}. Boxes in the JSON are [x1, y1, x2, y2] in a notional
    raw image (only their w, h matter to the loader).
    """
    rng = np.random.default_rng(seed)
    root = os.path.join(out_dir, "crop511")
    anno: Dict[str, Dict[str, Dict[str, list]]] = {}
    c = instance_size // 2
    for v in range(videos):
        video = f"video_{v:03d}"
        os.makedirs(os.path.join(root, video), exist_ok=True)
        for t in range(tracks):
            w0, h0 = rng.uniform(30, 120, size=2)
            for f in range(frames):
                w, h = w0 * rng.uniform(0.9, 1.1), h0 * rng.uniform(0.9, 1.1)
                p = 0.5 * (w + h)
                k = 127 / np.sqrt((w + p) * (h + p))
                img = cv2.resize(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), (instance_size, instance_size))
                tw, th = w * k, h * k
                cv2.rectangle(img, (int(c - tw / 2), int(c - th / 2)), (int(c + tw / 2), int(c + th / 2)),
                              (40, 220, 250), -1)
                cv2.imwrite(os.path.join(root, video, f"{f:06d}.{t:02d}.x.jpg"), img)
                anno.setdefault(video, {}).setdefault(f"{t:02d}", {})[f"{f:06d}"] = \
                    [100.0, 50.0, 100.0 + float(w), 50.0 + float(h)]
    path = os.path.join(out_dir, "train.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(anno, fh)
    return {"root": root, "anno": path}


def measure_throughput(dataset: Dataset, num_samples: int = 64, num_workers: int = 0, batch_size: int = 8,
                       warmup: Optional[int] = None) -> Dict[str, float]:
    """Load ``num_samples`` items through a DataLoader (after ``warmup`` items, default one batch per
    worker) and report ``samples_per_s`` and ``samples_per_s_per_worker`` (main process counts as one)."""
    workers = max(1, num_workers)
    warmup = batch_size * workers if warmup is None else warmup
    n = warmup + num_samples
    if len(dataset) < n:
        raise ValueError(f"dataset too small: {len(dataset)} items for {warmup} warm-up + {num_samples} samples")
    loader = DataLoader(Subset(dataset, range(n)), batch_size=batch_size, num_workers=num_workers,
                        shuffle=False, worker_init_fn=init_data_worker)
    seen, counted, started, start = 0, 0, warmup == 0, time.perf_counter()
    with torch.no_grad():
        for batch in loader:
            seen += int(batch["search"].shape[0])
            if not started and seen >= warmup:
                started, start, counted = True, time.perf_counter(), seen
    elapsed = time.perf_counter() - start
    measured = seen - counted
    rate = measured / elapsed if elapsed > 0 else float("inf")
    return {"samples": float(measured), "seconds": elapsed, "num_workers": float(num_workers),
            "samples_per_s": rate, "samples_per_s_per_worker": rate / workers}


def data_benchmark(num_samples: int = 128, workers: Sequence[int] = (0, 1, 2), batch_size: int = 8,
                   cfg: Optional[Mapping] = None) -> List[Dict[str, float]]:
    """Throughput of the synthetic source and of a fake crop511 source (written to a temporary folder)
    with the augmentation, templates and targets of ``cfg`` (default config). One row per source and
    worker count, with a ``source`` name."""
    from siamcorners.config import get_default_config
    from siamcorners.data.datasets import build_train_dataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_fake_crop_dataset(tmp, videos=8, frames=16)
        for name in ("SYNTHETIC", "CROP511"):
            c = (cfg.clone() if cfg is not None else get_default_config()).defrost()
            c.DATASET.VIDEOS_PER_EPOCH = max(num_samples * 4, 1000)
            if name == "CROP511":
                c.DATASET.NAMES = ["VID"]
                c.DATASET.SOURCES.VID.ROOT, c.DATASET.SOURCES.VID.ANNO = paths["root"], paths["anno"]
            else:
                c.DATASET.NAMES = ["SYNTHETIC"]
            dataset = build_train_dataset(c, epoch=0)
            for w in workers:
                rows.append({"source": name, **measure_throughput(dataset, num_samples, w, batch_size)})
    return rows
