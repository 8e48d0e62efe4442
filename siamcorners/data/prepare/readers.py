"""Readers of each training dataset's official raw layout -> crop jobs (:class:`VideoJob`).

Boxes are [x1, y1, x2, y2] in raw-image pixels; objects with an empty box are left out.
"""
from __future__ import annotations

import csv
import glob
import json
import os
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from siamcorners.data.prepare.common import FrameJob, VideoJob

__all__ = ["read_vid", "read_ytbb", "read_coco", "read_det", "read_got10k", "read_lasot", "read_sequences"]


def _box_ok(box: Sequence[float]) -> bool:
    return box[2] > box[0] and box[3] > box[1]


def _xml_objects(path: str) -> List[Tuple[Optional[int], List[float]]]:
    """[(trackid or None, [x1, y1, x2, y2])] of an ImageNet (VID/DET) XML annotation."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError(f"{path}: invalid XML: {e}") from None
    objects = []
    for k, obj in enumerate(root.iter("object")):
        bb = obj.find("bndbox")
        if bb is None:
            raise ValueError(f"{path}: object {k} has no <bndbox>")
        try:
            box = [float(bb.find(t).text) for t in ("xmin", "ymin", "xmax", "ymax")]
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"{path}: object {k}: <bndbox> needs numeric xmin, ymin, xmax, ymax") from None
        tid = obj.find("trackid")
        objects.append((int(tid.text) if tid is not None else None, box))
    return objects


def read_vid(root: str, splits: Sequence[str] = ("train", "val")) -> List[VideoJob]:
    """ILSVRC2015 VID: ``{root}/Annotations/VID/{split}/[subset/]{video}/{frame:06d}.xml`` with images at
    ``{root}/Data/VID/...JPEG``; the track is the XML ``trackid``. Video key: path under the split."""
    jobs = []
    for split in splits:
        anno_root = os.path.join(root, "Annotations", "VID", split)
        if not os.path.isdir(anno_root):
            continue
        video_dirs = sorted({os.path.dirname(p) for p in
                             glob.glob(os.path.join(anno_root, "**", "*.xml"), recursive=True)})
        for vdir in video_dirs:
            rel = os.path.relpath(vdir, anno_root)
            job = VideoJob(f"{split}/{rel}")
            for xml in sorted(glob.glob(os.path.join(vdir, "*.xml"))):
                stem = os.path.splitext(os.path.basename(xml))[0]
                image = os.path.join(root, "Data", "VID", split, rel, stem + ".JPEG")
                objs = [(tid, b) for tid, b in _xml_objects(xml) if _box_ok(b)]
                if objs:
                    job.frames.append(FrameJob(image, int(stem), [(tid or 0, b) for tid, b in objs]))
            if job.frames:
                jobs.append(job)
    if not jobs:
        raise FileNotFoundError(f"no VID annotations under {root}/Annotations/VID/{{{','.join(splits)}}}")
    return jobs


def read_det(root: str, split: str = "train") -> List[VideoJob]:
    """ILSVRC DET: ``{root}/Annotations/DET/{split}/**/{name}.xml``, images ``{root}/Data/DET/{split}/**/{name}.JPEG``.
    Each image is a one-frame video; objects are tracks 0, 1, ..."""
    anno_root = os.path.join(root, "Annotations", "DET", split)
    xmls = sorted(glob.glob(os.path.join(anno_root, "**", "*.xml"), recursive=True))
    if not xmls:
        raise FileNotFoundError(f"no DET annotations under {anno_root}")
    jobs = []
    for xml in xmls:
        rel = os.path.splitext(os.path.relpath(xml, anno_root))[0]
        objs = [(k, b) for k, (_, b) in enumerate(_xml_objects(xml)) if _box_ok(b)]
        if objs:
            image = os.path.join(root, "Data", "DET", split, rel + ".JPEG")
            jobs.append(VideoJob(f"{split}/{rel}", [FrameJob(image, 0, objs)]))
    return jobs


def read_coco(root: str, split: str = "train2017") -> List[VideoJob]:
    """COCO: ``{root}/annotations/instances_{split}.json`` + ``{root}/{split}/{file_name}``; crowd boxes are
    skipped; each image is a one-frame video keyed ``{split}/{stem}``, its annotations tracks 0, 1, ..."""
    path = os.path.join(root, "annotations", f"instances_{split}.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"COCO annotation file not found: {path}")
    with open(path, "r", encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {e.lineno}: invalid JSON: {e.msg}") from None
    try:
        images = {im["id"]: im["file_name"] for im in data["images"]}
        anns = defaultdict(list)
        for ann in data["annotations"]:
            anns[ann["image_id"]].append(ann)
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: missing key {e} in images/annotations") from None
    jobs = []
    for image_id in sorted(anns):
        if image_id not in images:
            raise ValueError(f"{path}: annotation refers to unknown image_id {image_id}")
        objs = []
        for k, ann in enumerate(anns[image_id]):
            if ann.get("iscrowd", 0):
                continue
            x, y, w, h = (float(v) for v in ann["bbox"])
            box = [x, y, x + w, y + h]
            if _box_ok(box):
                objs.append((k, box))
        if objs:
            name = images[image_id]
            jobs.append(VideoJob(f"{split}/{os.path.splitext(name)[0]}",
                                 [FrameJob(os.path.join(root, split, name), 0, objs)]))
    return jobs


def _read_xywh(path: str) -> List[List[float]]:
    rows = []
    with open(path, "r", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                vals = [float(v) for v in line.replace("\t", ",").replace(" ", ",").split(",") if v != ""]
            except ValueError:
                raise ValueError(f"{path}:{n}: expected 4 numbers x,y,w,h, got {line!r}") from None
            if len(vals) != 4:
                raise ValueError(f"{path}:{n}: expected 4 numbers x,y,w,h, got {line!r}")
            rows.append(vals)
    return rows


def _read_flags(path: str, n: int) -> List[int]:
    """0/1 flags, one per line (GOT-10k) or comma-separated on one line (LaSOT); all 0 when absent."""
    if not os.path.isfile(path):
        return [0] * n
    with open(path, "r", encoding="utf-8") as f:
        text = f.read().replace(",", "\n").split()
    try:
        flags = [int(float(v)) for v in text]
    except ValueError:
        raise ValueError(f"{path}: expected 0/1 flags") from None
    if len(flags) != n:
        raise ValueError(f"{path}: {len(flags)} flags for {n} ground-truth boxes")
    return flags


def _sequence_job(video: str, img_dir: str, gt_path: str, flag_paths: Sequence[str]) -> Optional[VideoJob]:
    """Frame i (0-based) is ``{img_dir}/{i+1:08d}.jpg`` (GOT-10k and LaSOT naming)."""
    gt = _read_xywh(gt_path)
    hidden = [0] * len(gt)
    for p in flag_paths:
        hidden = [a | b for a, b in zip(hidden, _read_flags(p, len(gt)))]
    job = VideoJob(video)
    for i, ((x, y, w, h), off) in enumerate(zip(gt, hidden)):
        box = [x, y, x + w, y + h]
        if not off and _box_ok(box):
            job.frames.append(FrameJob(os.path.join(img_dir, f"{i + 1:08d}.jpg"), i, [(0, box)]))
    return job if job.frames else None


def read_got10k(root: str, split: str = "train") -> List[VideoJob]:
    """GOT-10k: ``{root}/{split}/{seq}/{00000001.jpg..., groundtruth.txt, absence.label}``; absent frames skipped."""
    base = os.path.join(root, split)
    seqs = sorted(d for d in glob.glob(os.path.join(base, "*")) if os.path.isfile(os.path.join(d, "groundtruth.txt")))
    if not seqs:
        raise FileNotFoundError(f"no GOT-10k sequences (*/groundtruth.txt) under {base}")
    jobs = [_sequence_job(os.path.basename(d), d, os.path.join(d, "groundtruth.txt"),
                          [os.path.join(d, "absence.label")]) for d in seqs]
    return [j for j in jobs if j is not None]


def read_lasot(root: str, videos: Optional[Sequence[str]] = None) -> List[VideoJob]:
    """LaSOT: ``{root}/{class}/{class}-{n}/{img/*.jpg, groundtruth.txt, full_occlusion.txt, out_of_view.txt}``;
    occluded / out-of-view frames skipped. ``videos``: optional list of sequence names to keep (a split)."""
    seqs = sorted(glob.glob(os.path.join(root, "*", "*", "groundtruth.txt")))
    if not seqs:
        raise FileNotFoundError(f"no LaSOT sequences (<class>/<class>-N/groundtruth.txt) under {root}")
    keep = set(videos) if videos else None
    jobs = []
    for gt in seqs:
        d = os.path.dirname(gt)
        name = os.path.basename(d)
        if keep is not None and name not in keep:
            continue
        job = _sequence_job(name, os.path.join(d, "img"), gt,
                            [os.path.join(d, "full_occlusion.txt"), os.path.join(d, "out_of_view.txt")])
        if job is not None:
            jobs.append(job)
    return jobs


def read_ytbb(csv_path: str, frames_root: str) -> List[VideoJob]:
    """YouTube-BB detection csv (``youtube_id, timestamp_ms, class_id, class_name, object_id,
    object_presence, xmin, xmax, ymin, ymax`` with normalised coordinates) + frames decoded by the
    official downloader at ``{frames_root}/{class_id}/{youtube_id}_{timestamp_ms}_{class_id}_{object_id}.jpg``.

    Video key ``{youtube_id}_{class_id}``; track = object_id; frame = rank of the timestamp in that video.
    Absent objects are skipped. Normalised boxes are scaled by the decoded frame's size (read from the file).
    """
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"YouTube-BB csv not found: {csv_path}")
    rows: Dict[str, List[Tuple[int, int, List[float], str]]] = defaultdict(list)
    with open(csv_path, "r", encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or row[0] == "youtube_id":
                continue
            if len(row) != 10:
                raise ValueError(f"{csv_path}:{n}: expected 10 columns, got {len(row)}")
            yt_id, ts, cls, _, obj, presence = row[:6]
            if presence != "present":
                continue
            try:
                xmin, xmax, ymin, ymax = (float(v) for v in row[6:])
                ts_i, cls_i, obj_i = int(ts), int(cls), int(obj)
            except ValueError:
                raise ValueError(f"{csv_path}:{n}: non-numeric timestamp/class/object/box in {row!r}") from None
            image = os.path.join(frames_root, str(cls_i), f"{yt_id}_{ts_i}_{cls_i}_{obj_i}.jpg")
            rows[f"{yt_id}_{cls_i}"].append((ts_i, obj_i, [xmin, ymin, xmax, ymax], image))
    jobs = []
    for video in sorted(rows):
        stamps = sorted({r[0] for r in rows[video]})
        rank = {t: i for i, t in enumerate(stamps)}
        frames: Dict[Tuple[int, str], FrameJob] = {}
        for ts, obj, nbox, image in sorted(rows[video]):
            if not _box_ok(nbox):
                continue
            frames[(ts, image)] = FrameJob(image, rank[ts], [(obj, nbox)], normalized=True)
        if frames:
            jobs.append(VideoJob(video, list(frames.values())))
    return jobs


_IMAGE_FILE = re.compile(r"^(.*?)(\d+)\.(jpg|jpeg|png|bmp)$", re.IGNORECASE)


def _numbered_images(folder: str) -> List[str]:
    """The image files of ``folder`` in frame order (by the number in their name: 1.jpg < 2.jpg < 10.jpg)."""
    found = []
    for name in os.listdir(folder):
        m = _IMAGE_FILE.match(name)
        if m and os.path.isfile(os.path.join(folder, name)):
            found.append((int(m.group(2)), name))
    return [os.path.join(folder, name) for _, name in sorted(found)]


def _own_sequence(video: str, folder: str) -> Optional[VideoJob]:
    """One annotated sequence folder in the OTB or GOT-10k layout (see :func:`read_sequences`)."""
    otb = os.path.join(folder, "groundtruth_rect.txt")
    if os.path.isfile(otb):
        gt_path, img_dir, shift, flags = otb, os.path.join(folder, "img"), 1.0, []
    else:
        gt_path = os.path.join(folder, "groundtruth.txt")
        img_dir = os.path.join(folder, "img") if os.path.isdir(os.path.join(folder, "img")) else folder
        shift, flags = 0.0, [os.path.join(folder, "absence.label")]
    if not os.path.isdir(img_dir):
        raise FileNotFoundError(f"{gt_path}: its image folder {img_dir} is missing")
    images = _numbered_images(img_dir)
    gt = _read_xywh(gt_path)
    if len(images) != len(gt):
        raise ValueError(f"{gt_path}: {len(gt)} ground-truth rows but {len(images)} numbered images in {img_dir} "
                         f"(one row per image, in the images' number order)")
    hidden = [0] * len(gt)
    for p in flags:
        hidden = [a | b for a, b in zip(hidden, _read_flags(p, len(gt)))]
    cover = os.path.join(folder, "cover.label")
    if shift == 0.0 and os.path.isfile(cover):  # GOT-10k: cover 0 = the target is fully occluded
        hidden = [a | int(c == 0) for a, c in zip(hidden, _read_levels(cover, len(gt)))]
    job = VideoJob(video)
    for i, ((x, y, w, h), off, image) in enumerate(zip(gt, hidden, images)):
        box = [x - shift, y - shift, x - shift + w, y - shift + h]
        if not off and all(v == v for v in box) and _box_ok(box):
            job.frames.append(FrameJob(image, i, [(0, box)]))
    return job if job.frames else None


def _read_levels(path: str, n: int) -> List[int]:
    """Integer levels, one per line (GOT-10k ``cover.label``: 0 = fully occluded .. 8 = fully visible)."""
    with open(path, "r", encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()]
    try:
        levels = [int(float(v)) for v in lines]
    except ValueError:
        raise ValueError(f"{path}: expected one integer per line") from None
    if len(levels) != n:
        raise ValueError(f"{path}: {len(levels)} values for {n} ground-truth boxes")
    return levels


def read_sequences(root: str) -> List[VideoJob]:
    """Any folder of annotated sequences (a user's own videos), found at any depth under ``root``:

    * OTB layout: ``<seq>/img/0001.jpg ...`` + ``<seq>/groundtruth_rect.txt`` (``x,y,w,h`` per image, OTB's 1-based
      pixels: shifted by -1 px to the 0-based pixels the crops use);
    * GOT-10k layout: ``<seq>/00000001.jpg ...`` (or ``<seq>/img/``) + ``<seq>/groundtruth.txt`` (0-based ``x,y,w,h``),
      optional ``absence.label`` (1 = absent) and ``cover.label`` (0 = fully occluded): those frames are skipped.

    Row i belongs to the i-th image in number order; rows with NaN or an empty box are skipped. Video key = the
    folder's path under ``root``."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"sequence folder not found: {root}")
    jobs = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        if "groundtruth_rect.txt" in files or "groundtruth.txt" in files:
            dirs[:] = []  # a sequence's own sub-folders (img/) hold no further sequences
            rel = os.path.relpath(folder, root)
            job = _own_sequence(os.path.basename(os.path.abspath(root)) if rel == "." else rel.replace(os.sep, "/"),
                                folder)
            if job is not None:
                jobs.append(job)
    if not jobs:
        raise FileNotFoundError(f"no annotated sequences under {root} (<seq>/img/*.jpg + groundtruth_rect.txt, or "
                                f"<seq>/*.jpg + groundtruth.txt)")
    return jobs
