"""The ``geophoto`` command: one subcommand per capability.

Each subcommand lives in its own module here with ``register(subparsers)``, which adds its
parser and sets ``run(args) -> int``. Modules are imported only to build the parser, so
they must import heavy libraries (TensorFlow, geopandas) inside ``run``.
"""
import argparse
import importlib
import logging
import os
import signal
import sys
import threading
import warnings
from contextlib import contextmanager

from orangecontrib.geophoto import __version__

SUBCOMMANDS = ("exif", "embed", "geolocate", "geocode", "kml", "photos2kml", "workflow",
               "write")


class CommandError(Exception):
    """A fatal, user-facing error: printed as one line on stderr, exit status 1."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (``kill``, ``timeout``, a closed terminal), raised in the main
    thread so it unwinds as Ctrl+C does: ``finally`` blocks and context managers remove
    temporary files and folders on the way out."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


TERMINATING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                            if hasattr(signal, name))


def _terminate(signum, frame):
    for sig in TERMINATING_SIGNALS:  # a second signal must not cut the clean-up short
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


@contextmanager
def terminating_signals_unwind():
    """Within the block, SIGTERM and SIGHUP raise ``Terminated`` (the main thread only;
    an ignored signal, as under ``nohup``, stays ignored); the old handlers come back
    after it, so calling ``main`` from Python leaves the caller's handlers alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in TERMINATING_SIGNALS}
    for sig, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(sig, _terminate)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


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
        with terminating_signals_unwind():
            return int(args.run(args) or 0)
    except Terminated as ex:
        print("geophoto: terminated", file=sys.stderr)
        return 128 + ex.signum
    except KeyboardInterrupt:
        print("geophoto: interrupted", file=sys.stderr)
        return 130
    except (CommandError, OSError, ValueError) as ex:
        print(f"geophoto {args.command}: error: {ex}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
