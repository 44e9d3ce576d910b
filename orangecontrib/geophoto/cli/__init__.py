"""The ``geophoto`` command: one subcommand per capability.

Each subcommand lives in its own module here with ``register(subparsers)``, which adds its
parser and sets ``run(args) -> int``. Modules are imported only to build the parser, so
they must import heavy libraries (TensorFlow, geopandas) inside ``run``.
"""
import argparse
import importlib
import logging
import os
import sys
import warnings

from orangecontrib.geophoto import __version__

SUBCOMMANDS = ("exif", "embed", "geolocate", "geocode", "kml", "photos2kml", "workflow")


class CommandError(Exception):
    """A fatal, user-facing error: printed as one line on stderr, exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geophoto",
        description="Photos to geographic knowledge: EXIF positions, local image "
                    "embeddings, geolocation, place names and Google Earth files.")
    parser.add_argument("--version", action="version", version=f"geophoto {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as ex:
            if ex.name != f"{__name__}.{name}":
                raise
            continue  # capability not built yet
        module.register(subparsers)
    for sub in subparsers.choices.values():  # -q also after the subcommand
        sub.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                         help="no progress output")
    return parser


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="geophoto: %(message)s")
    warnings.simplefilter("ignore")
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("geophoto: interrupted", file=sys.stderr)
        return 130
    except (CommandError, OSError, ValueError) as ex:
        print(f"geophoto {args.command}: error: {ex}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
