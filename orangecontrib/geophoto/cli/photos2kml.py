"""``geophoto photos2kml FOLDER -o OUT.kmz``: the photos-to-Google-Earth script in one
command: EXIF Geotag (photos without GPS placed by ``--gpx``/``--neighbours``, their
positions written back with ``--write-geotags``), Reverse Geocode, Local Embedder labels
(bundled SqueezeNet, offline), then a KMZ with a thumbnail per geotagged photo."""
import os

from orangecontrib.geophoto.cli.common import (
    TerminalProgress, add_cluster_arguments, collect_images, run_job,
)


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
    add_cluster_arguments(parser, resume=False)
    parser.set_defaults(run=run, name="{name} - {place}")


def run(args) -> int:
    from orangecontrib.geophoto.cli.exif import placement_from_args
    from orangecontrib.geophoto.cli.write import write_options_or_none, write_placed_geotags
    from orangecontrib.geophoto.cli.kml import options_from_args, report
    from orangecontrib.geophoto.export import export
    from orangecontrib.geophoto.progress import scaled
    from orangecontrib.geophoto.tables import write_table
    paths = collect_images(args.paths, args.command)
    if not paths:
        raise ValueError("no image files found in " + ", ".join(args.paths))
    placement = placement_from_args(args)
    write_options = write_options_or_none(args)
    if args.workers is not None or args.cluster:
        if placement is not None:
            raise ValueError("placing photos by a track or by neighbours runs in one "
                             "process: leave out --workers/--cluster")
        labelled = _labelled_on_cluster(args, paths)
        progress = TerminalProgress("exporting", args.quiet)
        export_progress = progress
    else:
        progress = TerminalProgress("photos to KML", args.quiet)
        labelled = _labelled(args, paths, placement, progress)
        export_progress = scaled(progress, 0.8, 1.0)
    labelled = write_placed_geotags(labelled, write_options, args)
    name = os.path.basename(os.path.abspath(args.paths[0]))
    summary = export(labelled, args.output, options_from_args(args, name),
                     on_progress=export_progress)
    progress.done()
    if args.table:
        write_table(labelled, args.table)
    report(summary, args.quiet)
    return 0


def _labelled(args, paths, placement, progress):
    """Geotags (photos without GPS placed by ``placement``), place names and labels of
    every photo, in this process."""
    import numpy as np
    from orangecontrib.geophoto.cli import CommandError
    from orangecontrib.geophoto.embedders import ModelError, embed_table
    from orangecontrib.geophoto.exif import LATITUDE, geotag_table
    from orangecontrib.geophoto.geocode import reverse_geocode_table
    from orangecontrib.geophoto.progress import scaled
    from orangecontrib.geophoto.tables import table_from_paths
    table = geotag_table(table_from_paths(paths, "Photos"), placement=placement,
                         on_progress=scaled(progress, 0, 0.1))
    _check_located(np.isfinite(table.get_column(LATITUDE)).any(), len(paths),
                   placement is not None)
    # every photo stays in the table (with the reason when it has no position); only
    # the located ones go on the map, and the others are counted in the message
    table = reverse_geocode_table(table, online=args.online, language=args.language,
                                  on_progress=scaled(progress, 0.1, 0.3))
    try:
        return embed_table(table, top_k=5, on_progress=scaled(progress, 0.3, 0.8)).labels
    except ModelError as ex:
        raise CommandError(str(ex)) from ex


def _labelled_on_cluster(args, paths):
    """The same table, made by partitions on the cluster's workers and gathered (the
    export itself runs here)."""
    import numpy as np
    from orangecontrib.geophoto import cluster
    from orangecontrib.geophoto.cli import CommandError
    from orangecontrib.geophoto.embedders import ModelError
    from orangecontrib.geophoto.exif import LATITUDE
    job = cluster.path_job("photos2kml", cluster.photos2kml_part, paths, args.partition_size,
                           extra=(args.online, args.language))
    try:
        summary = run_job(args, job, "photos to a table")
    except ModelError as ex:
        raise CommandError(str(ex)) from ex
    table = cluster.concatenate(summary.results)
    table.name = "Photos"
    _check_located(np.isfinite(table.get_column(LATITUDE)).any(), len(paths))
    return table


def _check_located(any_located: bool, n: int, placed: bool = False) -> None:
    from orangecontrib.geophoto.cli import CommandError
    if not any_located:
        raise CommandError(f"none of the {n} photos has a position in its metadata"
                           + (" or on the track" if placed else ""))
