"""Command-line programs. Each module has ``main(argv=None) -> int``; ``tools/<name>.py`` and the console
scripts ``siamcorners-<name>`` (pyproject.toml) both call it."""
import signal
import sys

__all__ = ["stop_quietly_while_starting"]


def stop_quietly_while_starting() -> None:
    """Ctrl-C or SIGTERM while a program still imports its modules (torch takes seconds): one line and exit code
    130 instead of a KeyboardInterrupt traceback or a silent death by SIGTERM. ``tools/<name>.py`` calls this
    before its imports; ``run_guarded`` takes over when the program's work starts."""
    if sys._getframe(1).f_globals.get("__name__") == "__mp_main__":  # a spawned worker re-importing tools/<name>.py:
        return  # its parent ends it with SIGTERM (a pool stopping), which is no user's interrupt to report

    def stop(signum, frame):
        what = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        sys.stderr.write(f"\ninterrupted ({what}) while starting: nothing was done\n")
        raise SystemExit(130)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
