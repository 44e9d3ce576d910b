"""Helpers shared by the subcommands: input files, output tables, terminal progress."""
import os
import sys
import time
from contextlib import contextmanager
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
                        help=f"output table (.csv, .tab or .pkl; default: {default_hint}), "
                             "or OUT.parquet: a folder of Parquet parts (GeoParquet where "
                             "rows have positions) and a manifest")


def add_cluster_arguments(parser, resume: bool = True) -> None:
    """--workers / --cluster (a Dask cluster), --partition-size and --resume."""
    from orangecontrib.geophoto.cli.arguments import integer
    from orangecontrib.geophoto.cluster import PART_SIZE
    group = parser.add_argument_group("on a Dask cluster")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--workers", type=integer(1, 4096), metavar="N",
                       help="run on N worker processes on this machine (a Dask LocalCluster)")
    where.add_argument("--cluster", metavar="ADDRESS",
                       help="run on the workers of a running Dask scheduler, e.g. "
                            "tcp://10.0.0.5:8786")
    group.add_argument("--partition-size", type=integer(1, 1_000_000), default=PART_SIZE,
                       metavar="N",
                       help=f"photos per task (default {PART_SIZE})")
    if resume:
        group.add_argument("--resume", action="store_true",
                           help="with -o OUT.parquet: keep the parts OUT already holds and "
                                "compute only the others")


def distributed(args) -> bool:
    """Whether the run goes through partitions: on a cluster, or into a Parquet dataset."""
    from orangecontrib.geophoto.cluster import is_dataset_path
    return bool(getattr(args, "workers", None) or getattr(args, "cluster", None)
                or getattr(args, "resume", False) or is_dataset_path(args.output))


@contextmanager
def cluster_client(args):
    """A Dask client for --workers/--cluster (None to run the partitions in this process),
    its workers and dashboard shown on stderr; closed when the block ends."""
    from orangecontrib.geophoto.cli import CommandError
    from orangecontrib.geophoto import cluster
    if args.partition_size < 1:
        raise ValueError("--partition-size must be at least 1")
    if args.workers is None and not args.cluster:
        yield None
        return
    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be at least 1")
    try:
        with cluster.connect(args.workers, args.cluster) as client:
            cluster.progress_line(client, args.quiet)
            yield client
    except cluster.ClusterError as ex:
        raise CommandError(str(ex)) from None


def run_job(args, job, label: str, prepare=None):
    """Run a cluster job with a progress line; a Summary (results gathered when OUT is
    not a Parquet dataset). ``prepare(client, job)``: before the tasks go, on a cluster."""
    from orangecontrib.geophoto.cli import CommandError
    from orangecontrib.geophoto import cluster
    folder = args.output if cluster.is_dataset_path(args.output) else None
    progress = TerminalProgress(label, args.quiet)
    try:
        with cluster_client(args) as client:
            if prepare is not None and client is not None:
                prepare(client, job)
            summary = cluster.run_job(job, client, folder, getattr(args, "resume", False),
                                      on_progress=progress)
    except cluster.ClusterError as ex:
        raise CommandError(str(ex)) from None
    finally:
        progress.done()
    return summary


def written(args, summary=None) -> str:
    """'; written to OUT' (with the parts of a dataset) for the closing line."""
    if not args.output:
        return ""
    if summary is not None and summary.results is None:
        kept = f", {summary.resumed} kept from before" if summary.resumed else ""
        return f"; written to {args.output} ({summary.parts} parts{kept})"
    return f"; written to {args.output}"


def save_output(table, output: Optional[str], command: str = "") -> None:
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
    from orangecontrib.geophoto.cluster import ClusterError, is_dataset_path, write_dataset
    if is_dataset_path(output):
        try:
            write_dataset(table, output, command)
        except ClusterError as ex:
            raise ValueError(str(ex)) from None
        return
    if os.path.splitext(output)[1].lower() not in TABLE_EXTENSIONS:
        raise ValueError(f"{output}: output must end in {', '.join(TABLE_EXTENSIONS)}"
                         " or .parquet")
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
