"""Search tracker hyper-parameters: one tracker per setting, scored with our metrics and ranked.

    python tools/hp_search.py --cfg experiments/siamcorners_r50/config.yaml --snapshot model.pth \\
        --dataset OTB100 --dataset-root /data/OTB100 --out hp/OTB100 \\
        --search TRACK.PENALTY_K=0.02,0.04,0.06 TRACK.WINDOW_INFLUENCE=0.01,0.1,0.3 TRACK.LR=0.3,0.4 \\
        [--random 8 --seed 0] [--workers 4] [--shard 0/4]

Each setting runs as the tracker ``<KEY>=<value>+...`` under ``<out>/results/<dataset>/`` (its resolved config
beside it), so a killed or repeated search resumes and never tracks a finished setting again. ``--shard i/N``
runs every N-th setting from i (job arrays); each job ranks the settings complete so far, and a last run
without ``--shard`` ranks them all. Prints the ranked table and writes ``<out>/hp_search.json``.
Each setting's folder has a fingerprint (config, weights, code, device type, dataset), as test.py's results do:
a search folder re-run with another snapshot, ``--opts`` or dataset is refused, never ranked with old scores. A
search holds ``<out>`` while it runs: another search there is refused meanwhile (shards of one search share it).
"""
from __future__ import annotations

import argparse
import os
import sys

from siamcorners.benchmarks import BenchmarkError, DATASET_NAMES, load_dataset
from siamcorners.config import ConfigError
from siamcorners.engine.claims import ClaimError, claim
from siamcorners.engine.fingerprint import (box_config, dataset_fingerprint, device_type, differences,
                                            tracking_fingerprint)
from siamcorners.engine.hp_search import (build_space, format_ranking, grid_size, parse_search, run_search,
                                          select_settings, write_json)
from siamcorners.engine.tester import SiamCornersFactory, parse_shard
from siamcorners.models.checkpoint import CheckpointError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", "--config", required=True, help="experiment config (YAML)")
    p.add_argument("--snapshot", help="checkpoint to test (default: cfg.TEST.SNAPSHOT)")
    p.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ... applied to every setting")
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASET_NAMES)}")
    p.add_argument("--dataset-root", required=True, help="dataset folder (raw layout or with <NAME>.json)")
    p.add_argument("--format", default="auto", choices=["auto", "json", "raw"], help="annotation source")
    p.add_argument("--videos", help="comma-separated video names to search on (default: all)")
    p.add_argument("--search", nargs="+", required=True, metavar="KEY=v1,v2",
                   help="config key and its candidate values (YAML syntax; lists in brackets)")
    p.add_argument("--random", type=int, metavar="N", help="run N distinct settings drawn from the grid")
    p.add_argument("--seed", type=int, default=0, help="seed of the --random draw")
    p.add_argument("--out", required=True, help="search folder: results/ and hp_search.json go here")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (videos of a setting)")
    p.add_argument("--gpus", help="comma-separated GPU ids; workers are spread over them")
    p.add_argument("--shard", default="0/1", help="i/N: run every N-th setting starting at i")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def _devices(gpus: str | None, cfg) -> list[str]:
    if gpus:
        return [f"cuda:{g.strip()}" for g in gpus.split(",") if g.strip()]
    if cfg.DEVICE == "auto":
        import torch
        return ["cuda" if torch.cuda.is_available() else "cpu"]
    return [cfg.DEVICE]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        from siamcorners.config import load_config

        cfg = load_config(args.cfg, args.opts)
        snapshot = args.snapshot or cfg.TEST.SNAPSHOT
        if not snapshot:
            raise BenchmarkError("--snapshot is required (cfg.TEST.SNAPSHOT is empty)")
        if not os.path.isfile(snapshot):
            raise BenchmarkError(f"{snapshot}: snapshot not found")
        space = build_space(cfg, parse_search(args.search))
        settings = select_settings(space, args.random, args.seed)
        shard = parse_shard(args.shard)
        dataset = load_dataset(args.dataset, args.dataset_root, args.format)
        if args.videos:
            dataset = dataset.subset([v.strip() for v in args.videos.split(",") if v.strip()])
        chosen = f"{len(settings)} drawn with seed {args.seed} from" if args.random else "all"
        print(f"hp search: {chosen} {grid_size(space)} settings of {', '.join(space)} on {dataset.name} "
              f"({len(dataset)} videos)" + (f", shard {args.shard}" if shard != (0, 1) else ""))
        results_dir = os.path.join(args.out, "results", dataset.name)
        devices = _devices(args.gpus, cfg)
        base = dict(tracking_fingerprint(cfg, snapshot), device=device_type(devices),
                    dataset=dataset_fingerprint(dataset))
        search = {"search": {k: [t for _, t in v] for k, v in space.items()}, "random": args.random,
                  "seed": args.seed}
        held = claim(args.out, "hp_search", dict(base, **search), f"{args.out} (hp search folder)", shared=True,
                     describe=differences, how="use another --out")
        try:
            results, pending = run_search(
                dataset, settings, results_dir,
                make_factory=lambda s: SiamCornersFactory(args.cfg, snapshot, list(args.opts) + s.opts),
                base_cfg=cfg, shard=shard, workers=args.workers, devices=devices,
                progress=not args.no_progress, fingerprint=lambda c: dict(base, config=box_config(c)))
            if results:
                print(format_ranking(results, list(space)))
            if pending:
                print(f"{len(pending)} of {len(settings)} settings not complete yet (other shards, or interrupted); "
                      f"run again without --shard to rank them all")
            path = os.path.join(args.out, "hp_search.json")
            write_json(results, path)
            print(f"json: {path} ({len(results)} settings)")
        finally:
            held.release()
    # e.g. a searched MODEL key the snapshot does not fit, another search holding --out
    except (BenchmarkError, ConfigError, CheckpointError, ClaimError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
