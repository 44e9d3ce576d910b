"""``geophoto geolocate TRAIN PHOTOS [--method ...] [-o OUT] [--evaluate]``."""
import json
import sys

from orangecontrib.geophoto.cli.common import TerminalProgress, add_output_argument, save_output


def register(subparsers):
    from orangecontrib.geophoto.geolocate import METHODS
    parser = subparsers.add_parser(
        "geolocate", help="predict where photos were taken from geotagged examples",
        description="Learn from TRAIN (features such as geophoto embed's n0, n1, ... and "
                    "latitude/longitude) and predict 'latitude (predicted)', 'longitude "
                    "(predicted)', 'uncertainty (m)' (68%% radius) and 'cell' for PHOTOS "
                    "(the same features). --method verified (and auto, when it wins in "
                    "cross-validation) also checks the nearest training photos by local "
                    "features and adds 'verified', 'matched photo', 'inliers' and "
                    "'verification'; it reads the photos of both tables' image columns. "
                    "--evaluate prints TRAIN's cross-validated scores as JSON.")
    parser.add_argument("train", metavar="TRAIN", help="training table (.csv, .tab, .pkl)")
    parser.add_argument("photos", metavar="PHOTOS", nargs="?", help="photos to locate")
    parser.add_argument("--method", choices=METHODS, default="auto",
                        help="auto (default) chooses by cross-validation inside TRAIN; "
                             "verified: retrieval verified by local features (SIFT)")
    parser.add_argument("--top", type=int, default=0, metavar="K",
                        help="also give the K best candidate locations")
    parser.add_argument("--evaluate", action="store_true",
                        help="print k-fold cross-validation metrics of TRAIN as JSON")
    parser.add_argument("--folds", type=int, default=5)
    add_output_argument(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from orangecontrib.geophoto.geolocate import evaluate, predict_table, train
    from orangecontrib.geophoto.tables import read_table
    if not args.photos and not args.evaluate:
        raise ValueError("give PHOTOS to locate, or --evaluate")
    data = read_table(args.train)
    if args.evaluate:
        progress = TerminalProgress("cross-validating", args.quiet)
        result = evaluate(data, args.method, args.folds, on_progress=progress)
        progress.done()
        print(json.dumps({**result.scores, "within the 68% radius": result.coverage},
                         indent=2))
    if args.photos:
        photos = read_table(args.photos)
        progress = TerminalProgress("training", args.quiet)
        model = train(data, args.method, on_progress=progress)
        progress.done()
        out = predict_table(model, photos, top=args.top)
        save_output(out, args.output)
        if not args.quiet:
            print(f"trained {model.method} {model.params} on {len(data) - model.skipped} "
                  f"photos ({model.skipped} without coordinates skipped); located "
                  f"{len(photos)}", file=sys.stderr)
    return 0
