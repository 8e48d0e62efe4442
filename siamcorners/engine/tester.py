"""Test runner: run a tracker over a benchmark and write its result files (resumable, parallel, shardable).

The tracker comes from a *factory*: ``factory(device: str) -> tracker`` where the tracker has
``init(frame, [x, y, w, h])`` and ``track(frame) -> {"bbox": [x, y, w, h], "score": float}``. With
``workers > 1`` the factory must be picklable (a module-level function or class instance); each worker
process builds one tracker on its device. A worker that cannot build it (out of GPU memory, a CUDA or ONNX Runtime
error) stops the run: `WorkerError`, one line naming the worker, its device and the error; finished videos stay.

How videos are tracked is a *runner*: ``runner(tracker, sequences, init_rule) -> [(boxes (N, 4), times (N,)), ...]``,
called on chunks of ``videos_per_chunk`` sequences. `track_sequential` handles one video at a time; a
batched tracker can plug in by passing its own runner and a chunk size > 1.

`RunConventions` (from ``cfg.TEST``) says how a video starts and what frame 0's line holds:
``init_rule`` turns the first ground-truth row (4 values, or an 8-value polygon in ``Sequence.init_region``)
into the init box (``benchmarks/regions.py``; "pysot" = the official test.py rule, +0.5 px for x, y, w, h rows);
``first_frame`` "init" writes that init box, "official" what the official test.py writes (its tracker
overwrites the init list with the box corners in template-patch pixels). Each video's files are written
atomically as soon as it finishes, so a killed run resumes with the missing videos.
"""
from __future__ import annotations

import glob
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence as _Seq

import numpy as np

from ..benchmarks.regions import INIT_BOX_RULES, init_box_from_region
from ..benchmarks.results import layout_for, make_submission_zip, write_result
from ..benchmarks.sequence import BenchmarkError, Dataset, Sequence
from ..data.crops import box_too_large, template_patch_box

__all__ = ["VideoOutcome", "RunConventions", "WorkerError", "track_sequential", "track_batched_runner",
           "track_video", "run_benchmark", "select_videos", "parse_shard", "SiamCornersFactory", "ImportedFactory"]

TrackerFactory = Callable[[str], Any]
Runner = Callable[[Any, list, str], list]


@dataclass(frozen=True)
class RunConventions:
    """How the test runner starts a video and writes frame 0 (``cfg.TEST.INIT_BOX``, ``cfg.TEST.FIRST_FRAME_BOX``;
    ``context_amount`` = ``cfg.TRACK.CONTEXT_AMOUNT``, the template patch of the "official" frame-0 line)."""

    init_rule: str = "pysot"
    first_frame: str = "init"
    context_amount: float = 0.5

    def __post_init__(self) -> None:
        if self.init_rule not in INIT_BOX_RULES:
            raise BenchmarkError(f"TEST.INIT_BOX must be one of {list(INIT_BOX_RULES)}, got {self.init_rule!r}")
        if self.first_frame not in ("official", "init"):
            raise BenchmarkError(f"TEST.FIRST_FRAME_BOX must be 'official' or 'init', got {self.first_frame!r}")

    @classmethod
    def from_cfg(cls, cfg: Any) -> "RunConventions":
        return cls(str(cfg["TEST"]["INIT_BOX"]), str(cfg["TEST"]["FIRST_FRAME_BOX"]),
                   float(cfg["TRACK"]["CONTEXT_AMOUNT"]))

    def first_line(self, init_box: _Seq[float]) -> list[float]:
        """Frame 0's result line for a video initialised with ``init_box`` [x, y, w, h]."""
        if self.first_frame == "init":
            return list(init_box)
        return list(template_patch_box(init_box, self.context_amount))


@dataclass
class VideoOutcome:
    name: str
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def _check_init_box(seq: Sequence, init_rule: str = "pysot",
                    image_size: tuple[int, int] | None = None) -> list[float]:
    """The init box of ``seq`` by ``init_rule`` (from its first region, 4 or 8 values), checked: a
    BenchmarkError naming the video when it is not a positive-size box or, given the first frame's (H, W),
    when it does not overlap the image."""
    region = getattr(seq, "init_region", None)
    region = np.asarray(seq.init_box if region is None else region, dtype=np.float64).reshape(-1)
    try:
        if not np.all(np.isfinite(region)):
            raise ValueError("not finite")
        box = np.asarray(init_box_from_region(region, init_rule), dtype=np.float64)
    except ValueError:
        raise BenchmarkError(f"{seq.name}: first-frame region {region.tolist()} cannot initialise a tracker") from None
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        raise BenchmarkError(f"{seq.name}: first-frame box {box.tolist()} cannot initialise a tracker")
    if image_size is not None:
        h, w = image_size
        x, y, bw, bh = box
        if x + bw <= 0 or y + bh <= 0 or x >= w or y >= h:
            raise BenchmarkError(f"{seq.name}: first-frame box {box.tolist()} (x, y, w, h) lies outside the "
                                 f"{w}x{h} image {seq.frames[0]}")
        problem = box_too_large(bw, bh, (h, w))
        if problem:
            raise BenchmarkError(f"{seq.name}: first-frame box {box.tolist()} (x, y, w, h) {problem}; "
                                 f"first image {seq.frames[0]}")
    return box.tolist()


def check_init_boxes(sequences: _Seq[Sequence], init_rule: str = "pysot") -> None:
    """Check every video's first-frame box against its first image before any tracking starts."""
    for seq in sequences:
        if not seq.frames:
            raise BenchmarkError(f"{seq.name}: no frames")
        _check_init_box(seq, init_rule, seq.frame(0).shape[:2])


def _remove_tmp_of(paths: _Seq[str]) -> None:
    """Delete the temporary files (``.<name>.*.tmp``) an interrupted atomic write of ``paths`` left."""
    for path in paths:
        for tmp in glob.glob(os.path.join(glob.escape(os.path.dirname(path)),
                                          "." + glob.escape(os.path.basename(path)) + ".*.tmp")):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def remove_stale_tmp(tracker_dir: str) -> int:
    """Delete temporary files an interrupted (killed) writer left under ``tracker_dir``; returns how many."""
    stale = glob.glob(os.path.join(glob.escape(tracker_dir), "**", ".*.tmp"), recursive=True)
    for path in stale:
        try:
            os.unlink(path)
        except OSError:
            pass
    return len(stale)


def track_video(tracker: Any, seq: Sequence, init_rule: str = "pysot") -> tuple[np.ndarray, np.ndarray]:
    """One OPE pass: boxes (N, 4) with frame 0 = the init box (``init_rule``), and seconds per frame (N,)."""
    n = len(seq.frames)
    boxes = np.zeros((n, 4), dtype=np.float64)
    times = np.zeros(n, dtype=np.float64)
    for i in range(n):
        frame = seq.frame(i)
        if i == 0:
            init = _check_init_box(seq, init_rule, frame.shape[:2])
        start = time.perf_counter()
        if i == 0:
            tracker.init(frame, list(init))
            boxes[0] = init
        else:
            out = tracker.track(frame)
            bbox = np.asarray(out["bbox"], dtype=np.float64).reshape(-1)
            if bbox.shape != (4,):
                raise BenchmarkError(f"{seq.name} frame {i}: tracker returned bbox {out['bbox']!r}, expected 4 numbers")
            boxes[i] = bbox
        times[i] = time.perf_counter() - start
    return boxes, times


def track_sequential(tracker: Any, sequences: list[Sequence], init_rule: str = "pysot"
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The default runner: one video after the other."""
    return [track_video(tracker, s, init_rule) for s in sequences]


class _SequenceFrames:
    """A benchmark Sequence as an indexable frame list (for the batched runner)."""

    def __init__(self, seq: Sequence):
        self.seq = seq

    def __len__(self) -> int:
        return len(self.seq.frames)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.seq.frame(i)


def track_batched_runner(tracker: Any, sequences: list[Sequence], init_rule: str = "pysot"
                         ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Runner for ``test.py --batch-videos K``: the chunk's videos in lock-step, one batched network forward
    per step (``siamcorners.tracker.batched``); needs the SiamCorners tracker."""
    from ..tracker import SiamCornersTracker
    from ..tracker.batched import track_batched

    if not isinstance(tracker, SiamCornersTracker):
        raise BenchmarkError(f"--batch-videos needs the SiamCorners tracker, got {type(tracker).__name__}")
    return track_batched(tracker, [(_SequenceFrames(s), _check_init_box(s, init_rule)) for s in sequences])


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` (0 <= i < N) -> (i, N)."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise BenchmarkError(f"--shard must look like i/N (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise BenchmarkError(f"--shard {text}: need 0 <= i < N")
    return i, n


def select_videos(dataset: Dataset, videos: _Seq[str] | None = None, shard: tuple[int, int] = (0, 1)) -> list[Sequence]:
    """The videos of this run: the ``videos`` filter (names), then every N-th video from i for shard (i, N)."""
    seqs = dataset.sequences
    if videos:
        unknown = [v for v in videos if v not in dataset]
        if unknown:
            raise BenchmarkError(f"{dataset.name}: unknown video(s): {', '.join(unknown[:5])}")
        wanted = set(videos)
        seqs = [s for s in seqs if s.name in wanted]
    i, n = shard
    return seqs[i::n]


class SiamCornersFactory:
    """Builds the SiamCorners tracker from a config file and a snapshot (picklable for worker processes)."""

    def __init__(self, cfg_path: str | None, snapshot: str, opts: _Seq[str] = ()):
        self.cfg_path, self.snapshot, self.opts = cfg_path, snapshot, list(opts)

    def __call__(self, device: str) -> Any:
        from ..config import load_config
        from ..models import build_model
        from ..models.checkpoint import load_checkpoint
        from ..tracker import SiamCornersTracker

        cfg = load_config(self.cfg_path, self.opts)
        model = build_model(cfg)
        load_checkpoint(self.snapshot, model=model)
        return SiamCornersTracker(model, cfg, device=device)  # selects the device first, then moves the model


class ImportedFactory:
    """``"package.module:callable"``: any ``callable(device) -> tracker`` (imported in each worker).

    The name may also be a got10k tracker instance, and the callable may return one (``got10k.trackers.Tracker``:
    ``init(image, box)``, ``update(image) -> box`` on PIL RGB images); it is wrapped in
    ``siamcorners.integrations.got10k.Got10kTrackerAdapter`` so it runs through this runner unchanged.
    """

    def __init__(self, spec: str):
        if ":" not in spec:
            raise BenchmarkError(f"--tracker-factory must look like package.module:callable, got {spec!r}")
        self.spec = spec

    def __call__(self, device: str) -> Any:
        import importlib

        module, _, attr = self.spec.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise BenchmarkError(f"--tracker-factory {self.spec}: {e}") from None
        try:
            tracker = fn if _is_got10k_tracker(fn) else fn(device)
        except Exception as e:  # the user's code: one line naming it (--debug shows the traceback)
            raise BenchmarkError(f"--tracker-factory {self.spec}: {attr}({device!r}) raised "
                                 f"{type(e).__name__}: {e}") from e
        if _is_got10k_tracker(tracker):
            from ..integrations.got10k import as_runner_tracker
            tracker = as_runner_tracker(tracker)
        return tracker


def _is_got10k_tracker(obj: Any) -> bool:
    """An instance of ``got10k.trackers.Tracker`` (looked up only when the user's module imported got10k)."""
    mod = sys.modules.get("got10k.trackers")
    return mod is not None and isinstance(obj, mod.Tracker)


# ------------------------------------------------------------------------------------ workers
_WORKER: dict = {}


class WorkerError(RuntimeError):
    """A worker process could not build its tracker (or died while starting); the run was stopped. The message is
    one line: which worker, its device, the error, and how many videos have finished result files (kept)."""


@dataclass(frozen=True)
class _WorkerFailure:
    """What a worker that has no tracker returns for every chunk it is given (the parent stops the run)."""

    text: str


def _exit_on_term(signum, frame):
    """SIGTERM in a worker (the pool ends, or the parent died): delete the temporary files of a result being
    written, then leave at once (unwinding a pool worker can hang in its exit handlers)."""
    _remove_tmp_of(_WORKER.get("writing") or ())
    os._exit(128 + signum)


def _die_with_parent(parent_pid: int, death_signal: bool = True) -> None:
    """A worker ends when the process that started it dies, even by SIGKILL: Linux delivers SIGTERM on the
    parent's death (prctl PR_SET_PDEATHSIG, with ``death_signal``); everywhere a watchdog thread also polls the
    parent's pid. PR_SET_PDEATHSIG fires when the parent *thread* ends: right for the pool's first workers
    (started by the main thread), wrong for a replacement (started by the pool's worker-handler thread, which
    ends when the pool terminates, possibly while the worker holds the task queue's lock: the pool then hangs)."""
    if death_signal and sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _init_worker(factory: TrackerFactory, devices: _Seq[str], started: Any, n_workers: int, runner: Runner,
                 layout_kind: str, tracker_dir: str, threads: int, conventions: RunConventions,
                 parent_pid: int | None = None, video_locks: Any = None) -> None:
    """Build this worker's tracker. Never raises: a pool re-starts a worker whose initializer fails, so an error
    (out of GPU memory, a CUDA or ONNX Runtime error) is kept and returned for each chunk (:func:`_worker_chunk`),
    which stops the run. ``started`` counts the workers started so far: worker k takes ``devices[k % len]``; a
    worker numbered past ``n_workers`` replaces one that died (it has no device of its own: it stops the run)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which ends the pool
    signal.signal(signal.SIGTERM, _exit_on_term)
    with started.get_lock():
        k = started.value
        started.value += 1
    if parent_pid is not None:
        _die_with_parent(parent_pid, death_signal=k < n_workers)
    _WORKER.update(runner=runner, layout=layout_for(layout_kind), dir=tracker_dir, conventions=conventions,
                   locks=video_locks)
    if k >= n_workers:
        _WORKER["failure"] = _WorkerFailure(
            f"a worker process ended without a Python error (killed, out of memory, or a crash in a native "
            f"library) and the pool started worker {k + 1} in its place "
            f"(devices {', '.join(dict.fromkeys(devices))})")
        return
    device = devices[k % len(devices)]
    try:
        _WORKER["tracker"] = factory(device)
    except Exception as e:  # noqa: BLE001 - any error: report it, stop the run
        message = (str(e).strip().splitlines() or [""])[0]
        _WORKER["failure"] = _WorkerFailure(f"worker {k + 1} of {n_workers} (device {device}) could not build its "
                                            f"tracker: {type(e).__name__}: {message}")
        return
    if "torch" in sys.modules and threads > 0:
        sys.modules["torch"].set_num_threads(threads)


def _process(tracker: Any, runner: Runner, layout, tracker_dir: str, chunk: list[Sequence],
             conventions: RunConventions, video_locks: Any = None) -> tuple[list[VideoOutcome], list[str], list[str]]:
    """Track and write the chunk's videos -> (outcomes, videos another run is tracking, videos found finished).

    With ``video_locks`` a video is tracked only while its lock is held, and only when no other run finished it
    in the meantime."""
    held, busy, done_meanwhile = [], [], []
    mine = []
    try:
        for seq in chunk:
            files = (layout.box_file(tracker_dir, seq.name), layout.time_file(tracker_dir, seq.name))
            if video_locks is not None:
                lock = video_locks.try_lock(seq.name)
                if lock is None:
                    busy.append(seq.name)
                    continue
                held.append(lock)
                if layout.is_done(tracker_dir, seq.name):
                    done_meanwhile.append(seq.name)
                    continue
                _remove_tmp_of(files)
            mine.append(seq)
        out = []
        for seq, (boxes, times) in zip(mine, runner(tracker, mine, conventions.init_rule) if mine else []):
            boxes = np.array(boxes, dtype=np.float64)
            boxes[0] = conventions.first_line(boxes[0])
            _WORKER["writing"] = (layout.box_file(tracker_dir, seq.name), layout.time_file(tracker_dir, seq.name))
            write_result(layout, tracker_dir, seq.name, boxes, times)
            _WORKER["writing"] = None
            out.append(VideoOutcome(seq.name, len(boxes), float(np.sum(times))))
        return out, busy, done_meanwhile
    finally:
        for lock in held:
            lock.close()


def _worker_chunk(chunk: list[Sequence]) -> tuple[list[VideoOutcome], list[str], list[str]] | _WorkerFailure:
    w = _WORKER
    if "failure" in w:
        return w["failure"]
    return _process(w["tracker"], w["runner"], w["layout"], w["dir"], chunk, w["conventions"], w.get("locks"))


def run_benchmark(dataset: Dataset, factory: TrackerFactory, tracker_dir: str, videos: _Seq[str] | None = None,
                  workers: int = 1, devices: _Seq[str] = ("cpu",), shard: tuple[int, int] = (0, 1),
                  runner: Runner = track_sequential, videos_per_chunk: int = 1, progress: bool = True,
                  make_zip: bool = True, log: Callable[[str], None] = print, threads: int = 0,
                  conventions: RunConventions = RunConventions(), video_locks: Any = None) -> dict:
    """Track every selected, unfinished video and write its results under ``tracker_dir``.

    ``threads``: torch threads of each worker process (0: the cores shared over the workers); see
    :mod:`siamcorners.engine.threads`. ``video_locks`` (an `ItemLocks`): the folder may be shared with other
    runs of the same setup; a video is tracked only under its lock (without: this run owns the folder alone).

    Returns a summary: videos run / skipped / left to another run (``videos_busy``), frames, seconds, overall
    and mean per-video FPS, zip path.
    """
    layout = layout_for(dataset.kind)
    selected = select_videos(dataset, videos, shard)
    pending = [s for s in selected if not layout.is_done(tracker_dir, s.name)]
    skipped = len(selected) - len(pending)
    check_init_boxes(pending, conventions.init_rule)
    if os.path.isdir(tracker_dir) and video_locks is None:  # shared folders: per video, under its lock
        remove_stale_tmp(tracker_dir)
    if skipped:
        log(f"{skipped} of {len(selected)} videos already done in {tracker_dir}; running {len(pending)}")
    chunks = [pending[i:i + videos_per_chunk] for i in range(0, len(pending), max(1, videos_per_chunk))]
    outcomes: list[VideoOutcome] = []
    busy: list[str] = []

    bar = None
    if progress and pending:
        from tqdm import tqdm
        bar = tqdm(total=len(pending), desc=os.path.basename(os.path.normpath(tracker_dir)), unit="video",
                   file=sys.stderr)

    def record(result: tuple[list[VideoOutcome], list[str], list[str]]) -> None:
        nonlocal skipped
        done, taken, finished = result
        outcomes.extend(done)
        busy.extend(taken)
        skipped += len(finished)
        if bar is not None:
            bar.update(len(done) + len(taken) + len(finished))
            bar.set_postfix_str(", ".join(f"{o.name} {o.fps:.1f} fps" for o in done))

    if workers <= 1 or len(chunks) <= 1:
        if chunks:
            tracker = factory(devices[0])
            for chunk in chunks:
                record(_process(tracker, runner, layout, tracker_dir, chunk, conventions, video_locks))
    else:
        for s in pending:
            s.frames  # list the frames here so the sequences pickle without their lazy listers
        ctx = mp.get_context("spawn")
        n_proc = min(workers, len(chunks))
        threads = threads or max(1, (os.cpu_count() or 1) // n_proc)
        failure = None
        with ctx.Pool(n_proc, initializer=_init_worker,
                      initargs=(factory, list(devices), ctx.Value("i", 0), n_proc, runner, layout.kind, tracker_dir,
                                threads, conventions, os.getpid(), video_locks)) as pool:
            for done in pool.imap_unordered(_worker_chunk, chunks):
                if isinstance(done, _WorkerFailure):
                    failure = done
                    break
                record(done)
        # leaving the pool terminated the other workers (a result being written is deleted, finished ones stay)
        if failure is not None:
            if bar is not None:
                bar.close()
            kept = sum(layout.is_done(tracker_dir, s.name) for s in selected)
            raise WorkerError(f"{failure.text}; {kept} of {len(selected)} videos have finished result files in "
                              f"{tracker_dir} (kept; run again to track the rest)")
    if bar is not None:
        bar.close()

    frames = sum(o.frames for o in outcomes)
    seconds = sum(o.seconds for o in outcomes)
    summary = {
        "tracker_dir": tracker_dir, "videos_run": len(outcomes), "videos_skipped": skipped,
        "videos_busy": sorted(busy),
        "frames": frames, "seconds": seconds,
        "fps": frames / seconds if seconds > 0 else float("nan"),
        "mean_video_fps": float(np.mean([o.fps for o in outcomes])) if outcomes else float("nan"),
        "per_video_fps": {o.name: o.fps for o in outcomes}, "zip": None,
    }
    if outcomes:
        log(f"{len(outcomes)} videos, {frames} frames in {seconds:.1f} s: {summary['fps']:.1f} fps overall, "
            f"{summary['mean_video_fps']:.1f} fps mean per video")
    if busy:
        log(f"{len(busy)} video(s) left to another run of the same setup that is tracking them in {tracker_dir}: "
            f"{', '.join(sorted(busy)[:5])}{' ...' if len(busy) > 5 else ''}")
    if make_zip and not dataset.scored_locally and all(layout.is_done(tracker_dir, s.name) for s in dataset):
        zip_lock = video_locks.try_lock(".submission.zip") if video_locks is not None else None
        if video_locks is None or zip_lock is not None:  # another run of the setup is making the same zip
            try:
                summary["zip"] = make_submission_zip(tracker_dir, layout.kind, dataset.names)
            finally:
                if zip_lock is not None:
                    zip_lock.close()
            log(f"submission zip: {summary['zip']}")
    return summary
