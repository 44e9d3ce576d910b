"""``geophoto photos2kml FOLDER -o OUT.kmz``: the photos-to-Google-Earth script in one
command: EXIF Geotag (photos without GPS placed by ``--gpx``/``--neighbours``, their
positions written back with ``--write-geotags``), Reverse Geocode, Local Embedder labels
(bundled SqueezeNet, offline), then a KMZ with a thumbnail per geotagged photo."""
import os

from orangecontrib.geophoto.cli.common import TerminalProgress, collect_images


def register(subparsers):
    from orangecontrib.geophoto.cli.exif import add_placement_options
    from orangecontrib.geophoto.cli.kml import add_export_options
    from orangecontrib.geophoto.cli.write import add_write_geotags_option
    parser = subparsers.add_parser(
        "photos2kml", help="a folder of photos to a Google Earth KMZ, in one go",
        description="Read each photo's position and time, name its place (offline, or "
                    "online with --online), label what it shows with the bundled ImageNet "
                    "SqueezeNet, and write a KMZ with a thumbnail per geotagged photo. "
                    "Placemarks are named '{name} - {place}' by default.")
    parser.add_argument("paths", nargs="+", metavar="FOLDER", help="photo folders or files")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="OUT.kmz (or .kml, .geojson, .parquet, .gpkg)")
    parser.add_argument("--online", action="store_true",
                        help="place names from OpenStreetMap Nominatim (sends coordinates)")
    parser.add_argument("--language", help="language of online place names, e.g. en, it")
    parser.add_argument("--table", metavar="TABLE",
                        help="also write the combined table (.csv, .tab or .pkl)")
    add_export_options(parser)
    add_placement_options(parser)
    add_write_geotags_option(parser)
    parser.set_defaults(run=run, name="{name} - {place}")


def run(args) -> int:
    import numpy as np
    from orangecontrib.geophoto.cli import CommandError
    from orangecontrib.geophoto.cli.exif import placement_from_args
    from orangecontrib.geophoto.cli.write import write_options_or_none, write_placed_geotags
    from orangecontrib.geophoto.cli.kml import options_from_args, report
    from orangecontrib.geophoto.embedders import ModelError, embed_table
    from orangecontrib.geophoto.exif import LATITUDE, geotag_table
    from orangecontrib.geophoto.export import export
    from orangecontrib.geophoto.geocode import reverse_geocode_table
    from orangecontrib.geophoto.progress import scaled
    from orangecontrib.geophoto.tables import table_from_paths, write_table
    paths = collect_images(args.paths, args.command)
    if not paths:
        raise ValueError("no image files found in " + ", ".join(args.paths))
    placement = placement_from_args(args)
    write_options = write_options_or_none(args)
    progress = TerminalProgress("photos to KML", args.quiet)
    table = geotag_table(table_from_paths(paths, "Photos"), placement=placement,
                         on_progress=scaled(progress, 0, 0.1))
    located = np.isfinite(table.get_column(LATITUDE))
    if not located.any():
        raise CommandError(f"none of the {len(paths)} photos has a position in its metadata"
                           + (" or on the track" if placement is not None else ""))
    progress.done()
    table = write_placed_geotags(table, write_options, args)
    # every photo stays in the table (with the reason when it has no position); only
    # the located ones go on the map, and the others are counted in the message
    table = reverse_geocode_table(table, online=args.online, language=args.language,
                                  on_progress=scaled(progress, 0.1, 0.3))
    try:
        labelled = embed_table(table, top_k=5, on_progress=scaled(progress, 0.3, 0.8)).labels
    except ModelError as ex:
        raise CommandError(str(ex)) from ex
    name = os.path.basename(os.path.abspath(args.paths[0]))
    summary = export(labelled, args.output, options_from_args(args, name),
                     on_progress=scaled(progress, 0.8, 1.0))
    progress.done()
    if args.table:
        write_table(labelled, args.table)
    report(summary, args.quiet)
    return 0
