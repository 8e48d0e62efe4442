"""What every command-line program shares: one-line errors (tracebacks only with ``--debug``), Ctrl-C / SIGTERM
handling, ``--opts`` parsing, checks of output locations and devices made before the work starts.

A program's ``main(argv)`` builds its parser with :func:`add_common_args` (and :func:`add_opts_arg`), then runs
its body through :func:`run_guarded`::

    def main(argv=None):
        args = parse_args(argv)
        return run_guarded(lambda: _run(args), args, tool="test", argv=argv)
"""
from __future__ import annotations

import argparse
import errno
import os
import shlex
import signal
import sys
from typing import Callable, Sequence

__all__ = ["UserError", "ToolInterrupted", "USER_ERRORS", "add_common_args", "add_opts_arg", "run_guarded",
           "command_line", "check_output_dir", "check_output_file", "check_device", "join_negative_values",
           "one_line", "shown_path", "is_disk_full", "disk_full_line", "check_threads"]


def shown_path(path: str) -> str:
    """A path as messages and docs show it: relative to the working directory when inside it (no machine-specific
    prefix), else as given."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


class UserError(Exception):
    """A mistake on the command line or in the inputs; the message names the file / key / video at fault."""


class ToolInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM; ``note`` says what was saved and ``resume`` is the command that resumes (set by the
    program before re-raising; default: the command that ran)."""

    def __init__(self, note: str = "", resume: str = ""):
        super().__init__(note)
        self.note = note
        self.resume = resume


def _user_errors() -> tuple[type[BaseException], ...]:
    from ..benchmarks.sequence import BenchmarkError
    from ..config import ConfigError
    from ..data.frames import FrameSourceError
    from ..engine.claims import ClaimError
    from ..engine.tester import WorkerError
    from ..models.checkpoint import CheckpointError
    from ..models.runtime.onnxrt import ProviderError

    return (UserError, ConfigError, BenchmarkError, CheckpointError, FrameSourceError, ClaimError, WorkerError,
            ProviderError, OSError)


USER_ERRORS = _user_errors()


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--debug`` (show the Python traceback of an error instead of the one-line message)."""
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the full Python traceback instead of one line")


def add_opts_arg(parser: argparse.ArgumentParser) -> None:
    """``--opts KEY VALUE ...``: the same in every tool. The list ends at the next ``--flag``, so other options
    may follow; ``--opts`` may be given several times (the pairs add up)."""
    parser.add_argument("--opts", nargs="+", action="extend", default=[], metavar="KEY VALUE",
                        help="config overrides as KEY VALUE pairs, e.g. --opts TRACK.PENALTY_K 0.04 DEVICE cpu "
                             "(values are YAML; the list ends at the next --flag)")


def one_line(e: BaseException) -> str:
    """An exception as one line (the first line of its message, prefixed by its type when the message is empty)."""
    text = str(e).strip()
    if isinstance(e, KeyError) and text.startswith("'"):
        text = text.strip("'")
    if isinstance(e, OSError) and e.filename and str(e.filename) not in text:
        text = f"{e.filename}: {e.strerror or text}"
    first = text.splitlines()[0] if text else type(e).__name__
    return first


def is_disk_full(e: BaseException) -> bool:
    """The error is "no space left" (ENOSPC) or "disk quota exceeded" (EDQUOT)."""
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def disk_full_line(e: OSError, kept: str, resume: str) -> str:
    """One line for a full disk: the file being written, what was kept, and the command that resumes."""
    where = f" while writing {e.filename}" if e.filename else ""
    reason = e.strerror or "no space left on the device"
    return (f"disk full{where}: {reason}; {kept + '; ' if kept else ''}"
            f"free some space and resume with: {resume}")


def command_line(tool: str, argv: Sequence[str] | None, replace: Sequence[str] = ()) -> str:
    """The command that ran this program (for "resume with: ..." lines); ``replace`` = ``[FLAG, VALUE]`` sets
    that option to that value (dropping the value given on the command line)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if replace:
        flag, value = replace
        kept: list[str] = []
        skip = False
        for a in args:
            if skip:
                skip = False
            elif a == flag:
                skip = True
            elif not a.startswith(flag + "="):
                kept.append(a)
        args = kept + [flag, value]
    prog = os.path.basename(sys.argv[0]) if argv is None else ""
    head = [prog] if prog.startswith("siamcorners-") else ["python", f"tools/{tool}.py"]
    return shlex.join(head + args)


def _raise_interrupt(signum, frame):  # Ctrl-C and SIGTERM: one path
    # the first interrupt stops the tool; a second one (Ctrl-C pressed twice) must not cut the clean-up and the
    # line saying what was kept short (it ended the process with rc -2 before), so further ones are ignored
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise ToolInterrupted()


def run_guarded(body: Callable[[], int], args: argparse.Namespace, tool: str, argv: Sequence[str] | None,
                resume_hint: Callable[[], str] | None = None,
                extra_errors: tuple[type[BaseException], ...] = ()) -> int:
    """Run ``body``; a user error prints ``error: <one line>`` and returns 2 (with ``--debug`` it is raised);
    Ctrl-C / SIGTERM print one line (what was saved, from the interrupt's note or ``resume_hint``, and the command
    to resume) and return 130; a second Ctrl-C while the tool stops is ignored. A full disk (ENOSPC) is a one-line
    error naming the file being written, what was kept (the error's ``kept`` attribute, set by the program, or
    ``resume_hint``) and the command to resume (the error's ``resume`` attribute, or the command that ran)."""
    previous, stopping = {}, False
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _raise_interrupt)
    except ValueError:  # not the main thread
        pass
    try:
        return body()
    except KeyboardInterrupt as e:
        stopping = argv is None and bool(previous)  # the program itself (not a call from Python): it exits next
        for sig in previous if stopping else ():
            signal.signal(sig, signal.SIG_IGN)
        if getattr(args, "debug", False):
            raise
        note = getattr(e, "note", "") or (resume_hint() if resume_hint else "")
        resume = getattr(e, "resume", "") or command_line(tool, argv)
        print(f"\ninterrupted: {note + '; ' if note else ''}resume with: {resume}", file=sys.stderr)
        return 130
    except USER_ERRORS + extra_errors as e:
        if getattr(args, "debug", False):
            raise
        if is_disk_full(e):
            kept = getattr(e, "kept", "") or (resume_hint() if resume_hint else "")
            resume = getattr(e, "resume", "") or command_line(tool, argv)
            print(f"error: {disk_full_line(e, kept, resume)}", file=sys.stderr)
        else:
            print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    finally:
        # a program that was interrupted keeps ignoring Ctrl-C / SIGTERM while Python shuts down (a handler set
        # here would be reset to the default there, and a second Ctrl-C would end the process with rc -2)
        if not stopping:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


# ------------------------------------------------------------------------------------------ checks before work
def check_output_dir(path: str, what: str) -> None:
    """``path`` is (or can be created as) a writable folder: no part of it is a file, and the deepest existing
    folder is writable. Raises :class:`UserError` naming ``what`` (e.g. ``--out``) and the path."""
    full = os.path.abspath(path)
    existing = full
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        where = "is a file" if existing == full else f"cannot be created: {existing} is a file"
        raise UserError(f"{what} {path}: {where}, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{what} {path}: {existing} is not writable")


def check_output_file(path: str, what: str) -> None:
    """``path`` can be written as a file: it is not a folder, and its folder passes :func:`check_output_dir`."""
    if os.path.isdir(path):
        raise UserError(f"{what} {path}: is a folder, expected a file name")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UserError(f"{what} {path}: the file exists and is not writable")
    check_output_dir(os.path.dirname(os.path.abspath(path)), what)


def check_device(device: str, what: str = "DEVICE") -> None:
    """A ``cuda`` / ``cuda:N`` device exists (PyTorch sees a GPU with that index); ``cpu`` / ``auto`` / ``mps`` pass
    (the values config key DEVICE allows), anything else is an error."""
    device = str(device).strip()
    if not device.startswith("cuda"):
        if device.lower() not in ("cpu", "auto", "mps"):
            raise UserError(f"{what} {device}: not a device (use cpu, cuda, cuda:N, mps or auto)")
        return
    import torch

    hint = "use --opts DEVICE cpu (or DEVICE auto)"
    if not torch.cuda.is_available():
        raise UserError(f"{what} {device}: no CUDA GPU is available to PyTorch "
                        f"(torch.cuda.is_available() is False); {hint}")
    _, _, index = device.partition(":")
    if index:
        count = torch.cuda.device_count()
        if not index.isdigit() or int(index) >= count:
            raise UserError(f"{what} {device}: no such GPU (PyTorch sees {count}: cuda:0..cuda:{count - 1})")


def check_threads(threads: int) -> None:
    """``--threads N``: 0 (chosen from the free cores and the load) or a positive count."""
    if threads < 0:
        raise UserError(f"--threads must be >= 1, or 0 to choose from the free cores and the load; got {threads}")


def join_negative_values(argv: Sequence[str], flags: Sequence[str]) -> list[str]:
    """``--init -20,-20,60,60`` -> ``--init=-20,-20,60,60`` so argparse does not take the value for an option."""
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        if items[i] in flags and i + 1 < len(items) and items[i + 1].startswith("-") and items[i + 1][1:2].isdigit():
            out.append(f"{items[i]}={items[i + 1]}")
            i += 2
            continue
        out.append(items[i])
        i += 1
    return out
