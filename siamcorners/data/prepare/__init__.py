"""Turn each training dataset's official raw layout into the pysot crop511 layout + JSON (``tools/prepare/``)."""
from siamcorners.data.prepare.common import (FrameJob, VideoJob, build_annotations, crop_instance, crop_video,
                                             prepare_dataset, write_json_atomic)
from siamcorners.data.prepare.readers import (read_coco, read_det, read_got10k, read_lasot, read_sequences, read_vid,
                                              read_ytbb)

__all__ = ["FrameJob", "VideoJob", "build_annotations", "crop_instance", "crop_video", "prepare_dataset",
           "write_json_atomic", "read_coco", "read_det", "read_got10k", "read_lasot", "read_sequences", "read_vid",
           "read_ytbb", "run_cli"]


def run_cli(description: str, add_args, read_jobs, json_name: str = "train.json", argv=None) -> int:
    """Shared command line of the prepare scripts: ``add_args(parser)`` adds the source's inputs,
    ``read_jobs(args)`` returns the crop jobs; adds ``--out``, ``--workers``, ``--instance-size``."""
    import argparse
    import logging
    import os

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_args(parser)
    parser.add_argument("--out", required=True, help="output folder: gets crop511/ and the JSON")
    parser.add_argument("--json-name", default=json_name, help=f"annotation file name (default {json_name})")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    parser.add_argument("--instance-size", type=int, default=511, help="crop side (default 511)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        jobs = read_jobs(args)
    except (FileNotFoundError, ValueError) as e:
        parser.exit(2, f"error: {e}\n")
    totals = prepare_dataset(jobs, args.out, args.json_name, args.workers, args.instance_size,
                             desc=os.path.basename(parser.prog))
    print(f"{totals['videos']} videos: {totals['written']} crops written, {totals['existing']} already there, "
          f"{totals['failed']} skipped (missing images) -> {os.path.join(args.out, args.json_name)}")
    return 0
