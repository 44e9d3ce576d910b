"""``geophoto write TABLE [--mode sidecar|copy|inplace] [--out DIR] ...``: write the
positions of a table (EXIF Geotag's placed ones, Geo Classifier's predicted ones) into XMP
sidecars, copies or the photos themselves. ``exif`` and ``photos2kml`` write in the same run
with ``--write-geotags MODE`` through the same functions here."""
import sys

from orangecontrib.geophoto.cli.common import TerminalProgress, save_output

MODE_HELP = ("sidecar: photo.jpg.xmp beside each photo, the photo untouched (default); "
             "copy: copies with the geotags into a folder; inplace: into the photos, "
             "after a backup photo.jpg_original")


def register(subparsers):
    from orangecontrib.geophoto.writeback import MODES
    parser = subparsers.add_parser(
        "write", help="write positions back into photos, copies or XMP sidecars",
        description="Write the positions of a table (from 'geophoto exif --gpx' or "
                    "'--neighbours', or 'geophoto geolocate') into the photos' metadata, "
                    "readable by Lightroom, darktable, digiKam, exiftool and Google Photos: "
                    "latitude, longitude, altitude, the GPS time (UTC), the datum, the "
                    "uncertainty as GPSHPositioningError and the source as "
                    "GPSProcessingMethod. A photo that has a GPS position is left alone "
                    "unless --overwrite; predicted positions are written only with "
                    "--max-radius. One summary line; each row's outcome is in the table "
                    "written with -o.")
    parser.add_argument("input", metavar="TABLE", help="table (.csv, .tab or .pkl)")
    parser.add_argument("--mode", choices=MODES, default="sidecar", help=MODE_HELP)
    parser.add_argument("--out", metavar="DIR", help="folder for the copies (mode copy)")
    parser.add_argument("--max-radius", type=float, metavar="M",
                        help="write predicted (or placed) positions only when their "
                             "uncertainty radius is at most M metres (default: predicted "
                             "positions are not written)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a GPS position the photo (or its sidecar) has")
    parser.add_argument("--model", default="", metavar="NAME",
                        help="model named as the source of predicted positions")
    add_common_write_options(parser)
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="also write the table with each row's 'write status' "
                             "(.csv, .tab or .pkl)")
    parser.set_defaults(run=run)


def add_common_write_options(parser):
    """The options ``write`` shares with ``exif`` and ``photos2kml --write-geotags``."""
    from orangecontrib.geophoto.writeback import SIDECAR_STYLES
    parser.add_argument("--sidecar-name", choices=SIDECAR_STYLES, default=SIDECAR_STYLES[0],
                        help="sidecar file name: photo.jpg.xmp (darktable, digiKam; "
                             "default) or photo.xmp (Lightroom)")
    parser.add_argument("--no-backup", action="store_true",
                        help="mode inplace: no photo.jpg_original backup")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be written and write nothing")
    parser.add_argument("--touch", action="store_true",
                        help="give copies and rewritten photos the current time as their "
                             "modification time (default: keep the photo's)")


def add_write_geotags_option(parser):
    """``--write-geotags MODE`` for commands that place photos (``exif``, ``photos2kml``)."""
    from orangecontrib.geophoto.writeback import MODES
    group = parser.add_argument_group("writing the positions back")
    group.add_argument("--write-geotags", choices=MODES, metavar="MODE",
                       help="write the placed positions in the same run: "
                            + MODE_HELP + " (photos that had a GPS position are left alone)")
    group.add_argument("--write-to", metavar="DIR",
                       help="folder for the copies (--write-geotags copy)")
    add_common_write_options(group)


def options_from_args(args, mode=None, out_dir=None):
    from orangecontrib.geophoto.writeback import WriteOptions
    options = WriteOptions(
        mode=mode or args.mode, out_dir=out_dir if mode else args.out,
        max_radius_m=getattr(args, "max_radius", None),
        overwrite=getattr(args, "overwrite", False), dry_run=args.dry_run,
        backup=not args.no_backup, keep_mtime=not args.touch,
        sidecar_style=args.sidecar_name, model=getattr(args, "model", ""))
    if options.mode == "copy" and not options.out_dir:
        raise ValueError("mode copy needs an output folder: "
                         + ("--write-to DIR" if mode else "--out DIR"))
    options.check()
    return options


def write_table_geotags(table, options, on_progress=None, listing=None):
    """Write, print the dry run's list (on stdout, or ``listing``), and return the table
    with each row's outcome and the summary."""
    from orangecontrib.geophoto.writeback import DRY_RUN, STATUS_COLUMN, TARGET_COLUMN, \
        write_geotags_table
    from orangecontrib.geophoto.tables import printable
    out, summary = write_geotags_table(table, options, on_progress=on_progress)
    if options.dry_run:
        status, target = out.domain[STATUS_COLUMN], out.domain[TARGET_COLUMN]
        for s, t in zip(out.get_column(status), out.get_column(target)):
            if s == s and status.values[int(s)] == DRY_RUN:
                print(f"would write {printable(t)}", file=listing or sys.stdout)
    return out, summary


def summary_line(summary, options, table=None) -> str:
    """``geotags: 8 written, 1 already tagged (XMP sidecars)``, and the first failure's
    reason when some failed."""
    where = {"sidecar": "XMP sidecars", "copy": f"copies in {options.out_dir}",
             "inplace": "in place" + ("" if options.backup or options.dry_run
                                      else ", no backup")}[options.mode]
    line = f"geotags: {summary.counts_text()} ({where})"
    if summary.failed and table is not None:
        import os
        from orangecontrib.geophoto.tables import find_image_column, image_paths, printable
        from orangecontrib.geophoto.writeback import FAILED, REASON_COLUMN, STATUS_COLUMN
        status = table.domain[STATUS_COLUMN]
        failed = status.values.index(FAILED)
        paths = image_paths(table, find_image_column(table))
        for s, reason, path in zip(table.get_column(status), table.get_column(REASON_COLUMN),
                                   paths):
            if s == failed:
                name = printable(os.path.basename(path or "")) or "(no file)"
                line += f"; first failure: {name}: {printable(reason)}"
                break
    return line


def run(args) -> int:
    from orangecontrib.geophoto.tables import read_table
    options = options_from_args(args)
    table = read_table(args.input)
    progress = TerminalProgress("writing geotags", args.quiet)
    out, summary = write_table_geotags(table, options, progress)
    progress.done()
    if args.output:
        save_output(out, args.output)
    if not args.quiet or summary.failed:
        print(summary_line(summary, options, out), file=sys.stderr)
    return 0


def write_options_or_none(args):
    """WriteOptions from ``--write-geotags MODE`` and its options, checked before any
    photo is read; None without ``--write-geotags``."""
    if not args.write_geotags:
        return None
    return options_from_args(args, args.write_geotags, args.write_to)


def write_placed_geotags(table, options, args):
    """``exif``/``photos2kml``: write the table's positions when asked (the dry run's list
    and the summary on stderr, stdout may carry the table); the table with each row's
    outcome."""
    if options is None:
        return table
    progress = TerminalProgress("writing geotags", args.quiet)
    out, summary = write_table_geotags(table, options, progress, listing=sys.stderr)
    progress.done()
    if not args.quiet or summary.failed:
        print(summary_line(summary, options, out), file=sys.stderr)
    return out
