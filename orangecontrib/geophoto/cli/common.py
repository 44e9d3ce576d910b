"""Helpers shared by the subcommands: input files, output tables, terminal progress."""
import os
import sys
import time
from typing import Iterable, List, Optional

from orangecontrib.geophoto.tables import (
    IMAGE_EXTENSIONS, TABLE_EXTENSIONS, write_table,
)


def collect_images(inputs: Iterable[str], command: str = "") -> List[str]:
    """Image files named or found (recursively, sorted) under the given files and folders.

    A named file is kept whatever its extension or state, even when it does not exist: its
    row then carries the reason, so nothing named on the command line is silently lost. So
    is a FIFO or device with an image's name found in a folder (the readers refuse it
    without opening it). Folders that cannot be read are named in one warning line."""
    found, unreadable = [], []
    for path in inputs:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path, onerror=unreadable.append):
                dirs.sort()
                found.extend(os.path.join(root, f) for f in sorted(files)
                             if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS)
        else:
            found.append(path)
    if unreadable:
        warn_unreadable_folders(command, unreadable)
    return found


def warn_unreadable_folders(command: str, errors: List[OSError]) -> None:
    """One line on stderr: ``geophoto CMD: N folders could not be read: PATH (reason), ...``
    (shown even with -q: photos in them are missing from the output)."""
    from orangecontrib.geophoto.images import os_problem
    n = len(errors)
    listed = ", ".join(f"{ex.filename} ({os_problem(ex)})" for ex in errors)
    prefix = f"geophoto {command}" if command else "geophoto"
    print(f"{prefix}: {n} folder{'s' if n > 1 else ''} could not be read: {listed}",
          file=sys.stderr)


def add_output_argument(parser, default_hint="stdout as CSV"):
    parser.add_argument("-o", "--output", metavar="OUT",
                        help=f"output table (.csv, .tab or .pkl; default: {default_hint})")


def save_output(table, output: Optional[str]) -> None:
    """Write to OUT by extension, or CSV on stdout when no OUT is given: the same UTF-8
    bytes as a .csv file, whatever the terminal's encoding (a place name in Japanese
    must not abort the run after all its work)."""
    if output is None:
        import shutil
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "out.csv")
            write_table(table, path)
            sys.stdout.flush()
            with open(path, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        return
    if os.path.splitext(output)[1].lower() not in TABLE_EXTENSIONS:
        raise ValueError(f"{output}: output must end in {', '.join(TABLE_EXTENSIONS)}")
    write_table(table, output)


class TerminalProgress:
    """``on_progress`` for the terminal: a single updating line on stderr, only on a tty."""

    def __init__(self, label: str, quiet: bool = False):
        self.label = label
        self.enabled = not quiet and sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if fraction < 1 and now - self._last < 0.1:
            return
        self._last = now
        sys.stderr.write(f"\r{self.label}: {100 * min(max(fraction, 0), 1):5.1f}%")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * (len(self.label) + 9) + "\r")
            sys.stderr.flush()
