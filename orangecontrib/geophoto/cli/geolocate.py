"""``geophoto geolocate TRAIN PHOTOS [--method ...] [-o OUT] [--evaluate]``."""
import json
import sys

from orangecontrib.geophoto.cli.arguments import integer
from orangecontrib.geophoto.cli.common import (
    TerminalProgress, add_cluster_arguments, add_output_argument, distributed, run_job,
    save_output, written,
)


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
    parser.add_argument("train", metavar="TRAIN",
                        help="training table (.csv, .tab, .pkl or a .parquet dataset)")
    parser.add_argument("photos", metavar="PHOTOS", nargs="?",
                        help="photos to locate (a table, or a .parquet dataset: each of its "
                             "parts is a task)")
    parser.add_argument("--method", choices=METHODS, default="auto",
                        help="auto (default) chooses by cross-validation inside TRAIN; "
                             "verified: retrieval verified by local features (SIFT)")
    parser.add_argument("--top", type=integer(0, 100), default=0,
                        metavar="K", help="also give the K best candidate locations (0-100)")
    parser.add_argument("--evaluate", action="store_true",
                        help="print k-fold cross-validation metrics of TRAIN as JSON")
    parser.add_argument("--folds", type=integer(2, 100), default=5,
                        metavar="K", help="cross-validation folds for --evaluate (2-100, "
                                          "at most the training photos; default 5)")
    add_output_argument(parser)
    add_cluster_arguments(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    import numpy as np
    from orangecontrib.geophoto.geolocate import LAT_PRED, evaluate, predict_table, train
    from orangecontrib.geophoto.tables import read_table
    if args.resume and not args.photos:
        raise ValueError("--resume needs PHOTOS and -o OUT.parquet")
    if not args.photos and not args.evaluate:
        raise ValueError("give PHOTOS to locate, or --evaluate")
    data = _read(args.train)
    if args.evaluate:
        progress = TerminalProgress("cross-validating", args.quiet)
        result = evaluate(data, args.method, args.folds, on_progress=progress)
        progress.done()
        print(json.dumps({**result.scores, "within the 68% radius": result.coverage},
                         indent=2))
    if args.photos:
        partitioned = distributed(args) or _is_dataset(args.photos)
        photos = None if partitioned else read_table(args.photos)  # bad input before training
        progress = TerminalProgress("training", args.quiet)
        model = train(data, args.method, on_progress=progress)
        progress.done()
        if partitioned:
            return run_partitions(args, model, len(data))
        out = predict_table(model, photos, top=args.top)
        save_output(out, args.output)
        if not args.quiet:
            located = int(np.isfinite(out.get_column(LAT_PRED)).sum())
            print(f"trained {model.method} {model.params} on {len(data) - model.skipped} "
                  f"photos ({model.skipped} without coordinates skipped); located "
                  f"{located} of {len(photos)}"
                  + (f", {len(photos) - located} not (features missing)"
                     if located < len(photos) else ""), file=sys.stderr)
    return 0


def _is_dataset(path) -> bool:
    from orangecontrib.geophoto.cluster import is_dataset_path
    return is_dataset_path(path)


def _read(path):
    """A table file, or a whole geophoto Parquet dataset (it must fit in memory)."""
    from orangecontrib.geophoto.cluster import read_parquet_table
    from orangecontrib.geophoto.tables import read_table
    return read_parquet_table(path) if _is_dataset(path) else read_table(path)


def run_partitions(args, model, trained_on) -> int:
    """Predictions by partitions: the fitted model goes to every worker once (a broadcast),
    then each task predicts one part file of a PHOTOS dataset (read on the worker) or one
    chunk of a PHOTOS table; gathered, or written as a Parquet dataset."""
    import hashlib
    import os
    from orangecontrib.geophoto import cluster
    if _is_dataset(args.photos):
        import pyarrow.parquet as pq
        items = cluster.dataset_parts(args.photos)
        sizes = [pq.read_metadata(f).num_rows for f in items]
        identity_of = [(os.path.basename(f), os.path.getsize(f), os.path.getmtime(f))
                       for f in items]
    else:
        from orangecontrib.geophoto.tables import read_table
        photos = read_table(args.photos)
        items = [photos[r[0]:r[-1] + 1]
                 for r in cluster.partitions(range(len(photos)), args.partition_size)]
        sizes = [len(c) for c in items]
        identity_of = (os.path.getsize(args.photos), os.path.getmtime(args.photos))
    train_stat = os.stat(args.train) if os.path.isfile(args.train) else None
    arguments = {"train": os.path.abspath(args.train), "photos": os.path.abspath(args.photos),
                 "method": args.method, "top": args.top}
    identity = hashlib.sha1(repr((arguments, identity_of, train_stat and (
        train_stat.st_size, train_stat.st_mtime))).encode()).hexdigest()
    job = cluster.Job("geolocate", cluster.geolocate_part, items, sizes, arguments,
                      extra=(model, args.top), identity=identity)
    summary = run_job(args, job, "locating", prepare=_broadcast)
    if summary.results is not None:
        save_output(cluster.concatenate(summary.results), args.output)
    if not args.quiet:
        print(f"trained {model.method} {model.params} on {trained_on - model.skipped} "
              f"photos ({model.skipped} without coordinates skipped); located "
              f"{summary.located} of {summary.rows}{written(args, summary)}", file=sys.stderr)
    return 0


def _broadcast(client, job):
    """The fitted model (and its index) to every worker once, not shipped with each task."""
    model, top = job.extra
    job.extra = (client.scatter(model, broadcast=True), top)
