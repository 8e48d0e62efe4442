"""Command-line programs. Each module has ``main(argv=None) -> int``; ``tools/<name>.py`` and the console
scripts ``siamcorners-<name>`` (pyproject.toml) both call it."""
