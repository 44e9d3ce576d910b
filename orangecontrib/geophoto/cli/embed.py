"""``geophoto embed PATH... [--model ...] [--layer ...] [--top K] [-o OUT]``."""
import sys

from orangecontrib.geophoto.cli.arguments import integer
from orangecontrib.geophoto.cli.common import (
    TerminalProgress, add_output_argument, collect_images, save_output,
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
    parser.set_defaults(run=run)


def run(args) -> int:
    from orangecontrib.geophoto.cli import CommandError
    from orangecontrib.geophoto.embedders import ModelError, embed_paths, load_model
    from orangecontrib.geophoto.embedders import tables_from_embeddings
    from orangecontrib.geophoto.tables import append_columns, table_from_paths
    paths = collect_images(args.paths, args.command)
    if not paths:
        raise ValueError("no image files found in " + ", ".join(args.paths))
    try:
        model = load_model(args.model, args.layer)
        progress = TerminalProgress(f"embedding with {model.name}", args.quiet)
        result = embed_paths(paths, model, top_k=args.top, batch_size=args.batch_size,
                             cache=not args.no_cache, on_progress=progress)
    except ModelError as ex:
        raise CommandError(str(ex)) from ex
    progress.done()
    data = table_from_paths(paths)
    tables = tables_from_embeddings(data, result, model)
    out = append_columns(data, attributes=[(v, result.features[:, i]) for i, v in
                                           enumerate(_feature_vars(model.dim))],
                         metas=_label_columns(tables.labels, data) +
                         [(_reason_var(), result.errors)])
    save_output(out, args.output)
    if not args.quiet:
        failed = sum(bool(e) for e in result.errors)
        print(f"{len(paths)} files: {len(paths) - failed} embedded ({model.dim} features, "
              f"{model.name}), {failed} unreadable"
              + (f"; written to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def _feature_vars(dim):
    from Orange.data import ContinuousVariable
    return [ContinuousVariable(f"n{i}") for i in range(dim)]


def _label_columns(labels, data):
    if labels is None:
        return []
    new = labels.domain.metas[len(data.domain.metas):]
    return [(v, labels.get_column(v)) for v in new]


def _reason_var():
    from Orange.data import StringVariable
    return StringVariable("error")
