"""``geophoto exif PATH... [-o OUT]``: one row per image file, first column its path."""
import sys

import numpy as np

from orangecontrib.geophoto.cli.arguments import number
from orangecontrib.geophoto.cli.common import (
    TerminalProgress, add_cluster_arguments, add_output_argument, collect_images,
    distributed, run_job, save_output, written,
)
from orangecontrib.geophoto.cli.write import (
    add_write_geotags_option, write_options_or_none, write_placed_geotags,
)

YEAR_H = 24 * 366  # a camera clock a year off is the most we correct
YEAR_MIN = 60 * YEAR_H


def register(subparsers):
    parser = subparsers.add_parser(
        "exif", help="read position, time and camera from photo metadata",
        description="Read latitude/longitude, altitude, times, camera, lens, orientation and "
                    "direction from photo metadata (JPEG, TIFF, HEIC/HEIF, PNG, WebP). "
                    "Folders are searched recursively. A file that cannot be read keeps "
                    "its row, with the reason in the 'error' column; a value read but not "
                    "trusted (GPS 0/0 written without a fix, a date out of range) is left "
                    "empty and named in the 'warning' column.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    add_output_argument(parser)
    add_placement_options(parser)
    add_write_geotags_option(parser)
    add_cluster_arguments(parser)
    parser.set_defaults(run=run)


def add_placement_options(parser):
    """Options to place photos without GPS, shared with ``photos2kml``."""
    place = parser.add_argument_group("placing photos without GPS")
    place.add_argument("--gpx", metavar="FILE", help="GPS track to place photos by time")
    place.add_argument("--track", metavar="TABLE",
                       help="track as a table with time, latitude, longitude")
    place.add_argument("--clock-offset", type=number(-YEAR_H, YEAR_H),
                       default=0.0, metavar="HOURS",
                       help="camera clock minus UTC, for photos without a time zone "
                            "(default 0)")
    place.add_argument("--max-gap", type=number(0, YEAR_MIN),
                       default=10.0, metavar="MINUTES",
                       help="farthest in time from a track fix (default 10)")
    place.add_argument("--neighbours", type=number(0, YEAR_MIN),
                       default=0.0, metavar="MINUTES",
                       help="place photos between geotagged photos taken within this many "
                            "minutes (default: off)")


def placement_from_args(args):
    """A track.Placement from the options, or None when no option asks for one."""
    from orangecontrib.geophoto.tables import read_table
    from orangecontrib.geophoto.track import Placement, track_from_gpx, track_from_table
    track = None
    if args.gpx:
        track = track_from_gpx(args.gpx)
    elif args.track:
        track = track_from_table(read_table(args.track))
    if track is None and args.neighbours <= 0:
        return None
    return Placement(track=track, clock_offset=args.clock_offset, max_gap=args.max_gap,
                     neighbour_minutes=args.neighbours)


def run(args) -> int:
    from orangecontrib.geophoto.exif import ERROR, LATITUDE, WARNING, geotag_table
    from orangecontrib.geophoto.tables import table_from_paths
    paths = collect_images(args.paths, args.command)
    if not paths:
        raise ValueError("no image files found in " + ", ".join(args.paths))
    placement = placement_from_args(args)
    write_options = write_options_or_none(args)
    if distributed(args):
        if write_options is not None:
            raise ValueError("--write-geotags runs in one process: leave out --workers, "
                             "--cluster and a .parquet output")
        return run_partitions(args, paths, placement)
    progress = TerminalProgress("reading metadata", args.quiet)
    table = geotag_table(table_from_paths(paths), placement=placement, on_progress=progress)
    progress.done()
    table = write_placed_geotags(table, write_options, args)
    save_output(table, args.output)
    if not args.quiet:
        errors = sum(bool(e) for e in table.get_column(ERROR))
        warned = sum(bool(w) for w in table.get_column(WARNING))
        located = int(np.isfinite(table.get_column(LATITUDE)).sum())
        print(f"{len(table)} files: {located} with a position, {errors} unreadable"
              + (f", {warned} with a warning (see its column)" if warned else "")
              + (f"; written to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def run_partitions(args, paths, placement) -> int:
    """The same table, computed by partitions (on a cluster) and gathered or written as a
    Parquet dataset. A track places each photo on its own; neighbours need all photos."""
    from orangecontrib.geophoto import cluster
    if placement is not None and placement.neighbour_minutes > 0:
        raise ValueError("--neighbours needs all photos in one process; run it without "
                         "--workers, --cluster and a .parquet output")
    job = cluster.path_job("exif", cluster.exif_part, paths, args.partition_size,
                           _arguments(args), extra=(placement,))
    summary = run_job(args, job, "reading metadata")
    if summary.results is not None:
        save_output(cluster.concatenate(summary.results), args.output)
    if not args.quiet:
        print(f"{summary.rows} files: {summary.located} with a position, {summary.errors} "
              f"unreadable{written(args, summary)}", file=sys.stderr)
    return 0


def _arguments(args) -> dict:
    """The options that shape the output (a resumed run must have the same)."""
    return {k: getattr(args, k) for k in ("gpx", "track", "clock_offset", "max_gap",
                                          "neighbours")}
