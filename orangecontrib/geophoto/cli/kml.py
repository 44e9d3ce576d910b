"""``geophoto kml IN -o OUT.kml|.kmz|.geojson|.parquet|.gpkg [--name TEMPLATE]
[--group COLUMN]``."""
import sys

from orangecontrib.geophoto.cli.common import TerminalProgress


def add_export_options(parser):
    """Options shared by ``kml`` and ``photos2kml``."""
    parser.add_argument("--name", default="", metavar="TEMPLATE",
                        help='placemark name from columns, e.g. "{name} - {place}" (default: '
                             "the embedder's name, else the place, else the file name)")
    parser.add_argument("--group", metavar="COLUMN", help="a folder per value of this column")
    parser.add_argument("--thumbnail", type=int, default=320, metavar="PX",
                        help="thumbnail size in KMZ balloons (default 320; 0: none)")
    parser.add_argument("--column", action="append", dest="balloon_columns",
                        metavar="COLUMN",
                        help="a column in the balloons' table (repeat for more; default: "
                             "every visible column)")
    parser.add_argument("--no-circles", action="store_true",
                        help="no uncertainty circles around predicted positions")
    parser.add_argument("--time-line", action="store_true",
                        help="a line joining the photos in time order")
    privacy = parser.add_mutually_exclusive_group()
    privacy.add_argument("--coarsen", type=float, default=0, metavar="METRES",
                         help="privacy: snap positions to a grid of this size")
    privacy.add_argument("--to-place", action="store_true",
                         help="privacy: move positions to the nearest GeoNames place")


def options_from_args(args, document_name="Photos"):
    from orangecontrib.geophoto.export import ExportOptions
    if not 0 <= args.thumbnail <= 4096:
        raise ValueError("--thumbnail must be between 0 and 4096 pixels")
    if args.coarsen < 0:
        raise ValueError("--coarsen must be a positive number of metres")
    return ExportOptions(name_template=args.name, group=args.group,
                         thumbnail_size=args.thumbnail, time_line=args.time_line,
                         balloon_columns=args.balloon_columns,
                         uncertainty_circles=not args.no_circles,
                         privacy_grid_m=args.coarsen, privacy_to_place=args.to_place,
                         document_name=document_name)


def register(subparsers):
    parser = subparsers.add_parser(
        "kml", help="export a table with coordinates to KML/KMZ, GeoJSON, GeoParquet or "
             "GeoPackage",
        description="Write placemarks for Google Earth (KML, or KMZ with thumbnails), or "
                    "points as GeoJSON/GeoParquet/GeoPackage, from a table with "
                    "latitude/longitude "
                    "(or predicted ones) and, optionally, an image column.")
    parser.add_argument("input", metavar="IN", help="table (.csv, .tab or .pkl)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="OUT.kml, OUT.kmz, OUT.geojson, OUT.parquet (GeoParquet) or "
                             "OUT.gpkg")
    add_export_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    import os
    from orangecontrib.geophoto.export import export
    from orangecontrib.geophoto.tables import read_table
    data = read_table(args.input)
    progress = TerminalProgress("exporting", args.quiet)
    name = os.path.splitext(os.path.basename(args.input))[0]
    summary = export(data, args.output, options_from_args(args, name), on_progress=progress)
    progress.done()
    report(summary, args.quiet)
    return 0


def report(summary, quiet):
    """One line of what was written and what was left off; photos whose thumbnails could
    not be made on a second line, even when quiet (the run still worked)."""
    line = f"{_count(summary.placemarks, 'placemark')} written to {summary.path}"
    if summary.predicted:
        line += f" ({summary.predicted} at predicted positions)"
    if summary.without_position:
        line += (f"; {_count(summary.without_position, 'row')} without a position "
                 "left out")
    if summary.impossible:
        line += (f"; {_count(summary.impossible, 'row')} with impossible coordinates "
                 "left off the map")
    if not quiet:
        print(line, file=sys.stderr)
    if summary.thumbnails_failed:
        print(f"thumbnails: {summary.thumbnails_failed} of {summary.photos} photos could "
              "not be read", file=sys.stderr)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
