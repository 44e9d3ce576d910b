"""``geophoto geocode IN [-o OUT] [--online --language LANG]``."""
import sys

from orangecontrib.geophoto.cli.common import TerminalProgress, add_output_argument, save_output


def register(subparsers):
    parser = subparsers.add_parser(
        "geocode", help="coordinates to country, regions and nearest place (offline)",
        description="Add country, country code, admin1, admin2, place and place distance "
                    "(km) to a table with latitude/longitude columns. Offline by default "
                    "(Natural Earth boundaries, GeoNames places); rows with missing or "
                    "out-of-range coordinates keep empty values.")
    parser.add_argument("input", metavar="IN", help="table (.csv, .tab or .pkl)")
    add_output_argument(parser)
    parser.add_argument("--online", action="store_true",
                        help="ask OpenStreetMap Nominatim (sends the coordinates to it; "
                             "1 request/s; GEOPHOTO_NOMINATIM_URL names another server)")
    parser.add_argument("--language", help="language of online names, e.g. en, it, sl")
    parser.set_defaults(run=run)


def run(args) -> int:
    from orangecontrib.geophoto.cli import CommandError
    from orangecontrib.geophoto.geocode import count_invalid, reverse_geocode_table
    from orangecontrib.geophoto.geocode.online import NominatimUnreachable
    from orangecontrib.geophoto.tables import find_lat_lon, read_table
    data = read_table(args.input)
    lat_var, lon_var = find_lat_lon(data)
    if lat_var is None:
        raise ValueError(f"{args.input}: no latitude and longitude columns")
    progress = TerminalProgress("geocoding", args.quiet)
    try:
        out = reverse_geocode_table(data, lat_var, lon_var, online=args.online,
                                    language=args.language, on_progress=progress)
    except NominatimUnreachable as ex:
        progress.done()
        raise CommandError(f"{ex} (without --online, names come from offline data)") \
            from None
    progress.done()
    save_output(out, args.output)
    if not args.quiet:
        invalid = count_invalid(data, lat_var, lon_var)
        print(f"{len(data)} rows: {len(data) - invalid} geocoded, {invalid} without valid "
              "coordinates" + (f"; written to {args.output}" if args.output else ""),
              file=sys.stderr)
    return 0
