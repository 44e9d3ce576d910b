"""``geophoto embed PATH... [--model ...] [--layer ...] [--top K] [-o OUT]``."""
import sys

from orangecontrib.geophoto.cli.arguments import integer
from orangecontrib.geophoto.cli.common import (
    TerminalProgress, add_cluster_arguments, add_output_argument, collect_images,
    distributed, run_job, save_output, written,
)


def register(subparsers):
    from orangecontrib.geophoto.embedders.models import BUILTIN
    parser = subparsers.add_parser(
        "embed", help="image embeddings and ImageNet labels with local TensorFlow models",
        description="Embed photos with a TensorFlow model on this machine: one row per image "
                    "file (first column the path), features n0, n1, ... and, for models "
                    "with classes, the top-K labels and a 'name' joining the two best. "
                    "Photos that cannot be read keep their row with the reason.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    parser.add_argument("--model", default="squeezenet", metavar="MODEL",
                        help=f"{'|'.join(BUILTIN)} or the path of a .keras/.h5/.tflite "
                             "file, a SavedModel folder or a Lobe export "
                             "(default: squeezenet, bundled and offline)")
    parser.add_argument("--layer", help="feature layer (squeezenet: fire9, the default, or "
                                        "pool10 as Image Analytics; custom models: a layer "
                                        "or output name)")
    parser.add_argument("--top", type=integer(0), default=5, metavar="K",
                        help="labels per photo for models with classes (default 5; 0: none)")
    parser.add_argument("--batch-size", type=integer(1, 4096), default=32,
                        metavar="N", help="images per model call (default 32)")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the embedding cache")
    add_output_argument(parser)
    add_cluster_arguments(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from orangecontrib.geophoto.cli import CommandError
    from orangecontrib.geophoto.embedders import ModelError, embed_paths, load_model
    from orangecontrib.geophoto.embedders import embedding_table
    paths = collect_images(args.paths, args.command)
    if not paths:
        raise ValueError("no image files found in " + ", ".join(args.paths))
    if distributed(args):
        return run_partitions(args, paths)
    try:
        model = load_model(args.model, args.layer)
        progress = TerminalProgress(f"embedding with {model.name}", args.quiet)
        result = embed_paths(paths, model, top_k=args.top, batch_size=args.batch_size,
                             cache=not args.no_cache, on_progress=progress)
    except ModelError as ex:
        raise CommandError(str(ex)) from ex
    progress.done()
    out = embedding_table(paths, result, model)
    save_output(out, args.output)
    if not args.quiet:
        failed = sum(bool(e) for e in result.errors)
        print(f"{len(paths)} files: {len(paths) - failed} embedded ({model.dim} features, "
              f"{model.name}), {failed} unreadable"
              + (f"; written to {args.output}" if args.output else ""), file=sys.stderr)
    return 0



def run_partitions(args, paths) -> int:
    """The same table by partitions: each worker loads the model once and embeds its
    partitions; gathered, or written as a Parquet dataset by the workers. Every part has
    --top label columns for models with classes (empty for unreadable photos)."""
    from orangecontrib.geophoto import cluster
    from orangecontrib.geophoto.cli import CommandError
    from orangecontrib.geophoto.embedders import ModelError
    options = {"model": args.model, "layer": args.layer, "top": args.top}
    job = cluster.path_job("embed", cluster.embed_part, paths, args.partition_size, options,
                           extra=(args.model, args.layer, args.top, args.batch_size,
                                  not args.no_cache))
    try:
        summary = run_job(args, job, f"embedding with {args.model}")
    except ModelError as ex:
        raise CommandError(str(ex)) from ex
    if summary.results is not None:
        save_output(cluster.concatenate(summary.results), args.output)
    if not args.quiet:
        print(f"{summary.rows} files: {summary.rows - summary.errors} embedded "
              f"({args.model}), {summary.errors} unreadable{written(args, summary)}",
              file=sys.stderr)
    return 0
