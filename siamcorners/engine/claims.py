"""Folders claimed by one run at a time: operating-system locks (``fcntl.flock``) held for the run's life.

Every tool that writes a folder claims it before it writes: ``tools/test.py`` a tracker's results folder,
``tools/train.py`` its OUTPUT_DIR, ``tools/hp_search.py`` its ``--out`` (and each setting's results folder),
``tools/eval.py`` its report folder. A claim is two lock files in the folder it is made in (``directory``):

* ``.siamcorners.lock``: taken exclusively for the moment a claim is decided (the folder's files checked, and
  written: a fingerprint, a resolved config), so two runs never decide at the same time;
* ``.<name>.lock``: held for the run's life; shared by runs of the same setup where the folder allows it
  (``shared``: results folders, whose runs then take disjoint videos through `ItemLocks`), exclusive otherwise.
  It records its holders (pid, host, start time, command, setup) for the messages.

A second run with another setup is refused (`ClaimError`) while the first holds the folder; with the same setup
it joins (``shared``), waits (``wait``: eval reports, a few seconds) or is refused (training: two runs would write
the same checkpoints). ``overwrite`` (which deletes the folder's files) is refused while anyone holds the folder.

An flock belongs to the open file: the operating system releases it when the process ends, however it ends
(SIGKILL included). A holder recorded in the file whose lock is gone ended without releasing its claim: the
claim is taken over, and a line says so. Lock files are never deleted (deleting a lock file that another run
has open would let two runs hold "the same" lock). Locks work between processes of one machine; across machines
they are as good as the file system's ``flock`` (Linux NFS clients map it to NFS byte-range locks).
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import socket
import sys
import time
from contextlib import contextmanager
from typing import IO, Any, Callable, Iterator, Mapping, Optional

__all__ = ["Claim", "ClaimError", "ItemLocks", "claim", "lock_path", "setup_digest"]

MUTEX_NAME = ".siamcorners.lock"


class ClaimError(ValueError):
    """A folder is held by another run; the message names the folder, the run holding it and what to do."""


def setup_digest(setup: Optional[Mapping[str, Any]]) -> str:
    """SHA-256 of a setup (a fingerprint) in canonical JSON; "" for no setup."""
    if setup is None:
        return ""
    return hashlib.sha256(json.dumps(setup, sort_keys=True, default=str).encode()).hexdigest()


def lock_path(directory: str, name: str) -> str:
    """The run lock file of claim ``name`` in ``directory``."""
    return os.path.join(directory, f".{name}.lock")


def _try_lock(f: IO, mode: int) -> bool:
    try:
        fcntl.flock(f.fileno(), mode | fcntl.LOCK_NB)
        return True
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


@contextmanager
def _mutex(directory: str) -> Iterator[None]:
    with open(os.path.join(directory, MUTEX_NAME), "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # held for milliseconds by whoever decides a claim
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _read_holders(f: IO) -> list[dict]:
    f.seek(0)
    try:
        data = json.loads(f.read() or "[]")
    except ValueError:  # a writer died mid-write: the holders are unknown, the lock itself still tells
        return []
    return [h for h in data if isinstance(h, dict)] if isinstance(data, list) else []


def _write_holders(f: IO, holders: list[dict]) -> None:
    f.seek(0)
    f.truncate()
    f.write(json.dumps(holders, sort_keys=True))
    f.flush()


def _alive(holder: Mapping[str, Any]) -> bool:
    """False only for a holder on this machine whose process is gone."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def _ids(holders: list[dict]) -> str:
    if not holders:
        return "not recorded"
    h = holders[0]
    more = f" and {len(holders) - 1} more" if len(holders) > 1 else ""
    return f"pid {h.get('pid')} on {h.get('host')}, started {h.get('started')}{more}"


def _who(holders: list[dict]) -> str:
    return f"another run ({_ids(holders)})"


def _me(setup: Optional[Mapping[str, Any]]) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)[:500],
            "digest": setup_digest(setup), "setup": dict(setup) if setup is not None else None}


class Claim:
    """A claim held by this process (`claim`); `release` (or leaving a ``with`` block, or the process ending)
    gives it up."""

    def __init__(self, directory: str, name: str, f: IO, what: str):
        self.directory, self.name, self.what = directory, name, what
        self.path = lock_path(directory, name)
        self._file: Optional[IO] = f

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        f, self._file = self._file, None
        if f is None:
            return
        try:
            with _mutex(self.directory):
                _write_holders(f, [h for h in _read_holders(f)
                                   if not (h.get("pid") == os.getpid() and h.get("host") == socket.gethostname())])
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        except OSError:
            pass  # the folder is gone or unwritable: closing the file releases the lock all the same
        finally:
            f.close()

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def claim(directory: str, name: str, setup: Optional[Mapping[str, Any]], what: str, *, shared: bool = False,
          wait: bool = False, overwrite: bool = False,
          decide: Optional[Callable[[bool], None]] = None,
          describe: Optional[Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]] = None,
          how: str = "", log: Callable[[str], None] = print) -> Claim:
    """Claim ``directory`` (created if needed) for this run under ``name``; see the module docstring.

    ``setup``: what the run is made with (a fingerprint); runs with equal setups may share (``shared``) or wait
    for each other (``wait``). ``decide(alone)`` runs while the claim is being decided, before anyone else can
    claim: it checks and prepares the folder's files (``alone``: no other run holds the folder) and may raise to
    refuse. ``describe(theirs, mine)`` lists what differs between two setups for the refusal; ``how`` says what to
    do instead; ``what`` names the folder in messages.
    """
    os.makedirs(directory, exist_ok=True)
    me = _me(setup)
    waited = False
    while True:
        with _mutex(directory):
            f = open(lock_path(directory, name), "a+", encoding="utf-8")
            try:
                if _try_lock(f, fcntl.LOCK_EX):
                    stale = _read_holders(f)
                    if stale:
                        log(f"note: {what}: the run that held it ({_ids(stale)}) ended without releasing it "
                            f"(killed?); claim taken over")
                    if decide is not None:
                        decide(True)
                    _write_holders(f, [me])
                    if shared:  # converted under the mutex: no one can claim in between
                        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
                    return Claim(directory, name, f, what)
                holders = [h for h in _read_holders(f) if _alive(h)]
                same = setup is not None and bool(holders) and all(h.get("digest") == me["digest"] for h in holders)
                tail = f"; {how}" if how else ""
                if overwrite:
                    raise ClaimError(f"{what}: --overwrite refused: {_who(holders)} is writing there now; wait for it "
                                     f"to finish (or stop it) first{tail}")
                if same and shared and _try_lock(f, fcntl.LOCK_SH):
                    if decide is not None:
                        decide(False)
                    _write_holders(f, holders + [me])
                    return Claim(directory, name, f, what)
                if not same:
                    theirs = next((h.get("setup") for h in holders if h.get("digest") != me["digest"]), None)
                    diff = describe(theirs, setup) if describe and theirs is not None and setup is not None else []
                    diff = diff[:6] + (["..."] if len(diff) > 6 else [])
                    detail = f" (running -> now: {'; '.join(diff)})" if diff else ""
                    raise ClaimError(f"{what}: in use by {_who(holders)} with another setup{detail}; two setups "
                                     f"would mix their files there{tail}")
                if not wait:
                    raise ClaimError(f"{what}: in use by {_who(holders)} with the same setup; both would write the "
                                     f"same files{tail}")
            except BaseException:
                f.close()
                raise
            f.close()
        if not waited:
            log(f"{what}: {_who(holders)} with the same setup is writing there; waiting for it to finish")
            waited = True
        with open(lock_path(directory, name), "a+", encoding="utf-8") as w:
            fcntl.flock(w.fileno(), fcntl.LOCK_EX)  # blocks until the holder is done; then decide again


class ItemLocks:
    """Locks on the items of a shared folder (the videos of a results folder), so that runs of one setup that
    share the folder never work on the same item at once: ``try_lock(item)`` returns the held lock (close it when
    the item's files are written) or None when another process holds it. Lock files live in ``folder``."""

    _SAFE = re.compile(r"^[A-Za-z0-9_+=-][A-Za-z0-9._+=-]{0,100}$")

    def __init__(self, folder: str):
        self.folder = folder

    def path(self, item: str) -> str:
        stem = item if self._SAFE.match(item) else hashlib.sha1(item.encode()).hexdigest()
        return os.path.join(self.folder, f"{stem}.lock")

    def try_lock(self, item: str) -> Optional[IO]:
        os.makedirs(self.folder, exist_ok=True)
        f = open(self.path(item), "a")
        if _try_lock(f, fcntl.LOCK_EX):
            return f
        f.close()
        return None
