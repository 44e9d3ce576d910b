"""Local Embedder core: TensorFlow image models on the user's own machine (no Qt).

    >>> from orangecontrib.geophoto.embedders import embed_table
    >>> result = embed_table(images)            # bundled SqueezeNet, offline
    >>> result.embeddings, result.skipped, result.labels

TensorFlow is imported only when a model is loaded, so the rest of the add-on works where it
cannot be imported (``tensorflow_problem()`` says why).
"""
from typing import NamedTuple, Optional, Sequence

import numpy as np

from orangecontrib.geophoto.embedders.models import (  # noqa: F401
    BUILTIN, LoadedModel, ModelError, load_model, tensorflow_problem,
)
from orangecontrib.geophoto.embedders.pipeline import Embeddings

NAME = "name"
SKIP_REASON = "reason"


def embed_paths(paths: Sequence[Optional[str]], model="squeezenet", layer=None, top_k=0,
                batch_size=32, cache=True, weights="imagenet",
                on_progress=None, should_stop=None, client=None) -> Embeddings:
    """Features of each path (NaN rows and a reason for photos that cannot be read), and
    the top-k labels for models with classes. ``model``: a built-in name, a model path or a
    LoadedModel; ``cache``: reuse and store results keyed by image content and model.
    ``client``: a ``dask.distributed.Client`` whose workers embed partitions of the paths
    (each loads the model, given by name or path, once); the same result, in order."""
    if client is not None:
        from orangecontrib.geophoto import cluster
        return cluster.embed_paths(client, paths, model, layer, top_k, batch_size, cache,
                                   weights, on_progress=on_progress)
    from orangecontrib.geophoto.embedders import pipeline
    from orangecontrib.geophoto.embedders.cache import EmbeddingCache
    loaded = load_model(model, layer, weights)
    store = None
    if cache and loaded.model_id:
        store = EmbeddingCache(loaded.model_id, dim=loaded.dim,
                               classes=len(loaded.class_names or ()))
    return pipeline.run(list(paths), loaded, batch_size=batch_size, top=top_k, cache=store,
                        on_progress=on_progress, should_stop=should_stop)


class EmbedResult(NamedTuple):
    embeddings: Optional[object]   # Table: rows that worked, plus n0..n{d-1}
    skipped: Optional[object]      # Table: rows that failed, plus the reason
    labels: Optional[object]       # Table: every row plus label/probability columns, name


def embed_table(data, image_var=None, model="squeezenet", layer=None, top_k=5,
                batch_size=32, cache=True, weights="imagenet",
                on_progress=None, should_stop=None) -> EmbedResult:
    """Embed the photos of an Orange table (Import Images' output or any table with paths).

    Embeddings are appended as hidden continuous attributes ``n0...``, as Image Analytics
    names them, so Distances, clustering and learners use them unchanged."""
    from orangecontrib.geophoto.tables import find_image_column, image_paths
    image_var = image_var or find_image_column(data)
    if image_var is None:
        raise ValueError("the data has no column of image paths")
    loaded = load_model(model, layer, weights)
    result = embed_paths(image_paths(data, image_var), loaded, top_k=top_k,
                         batch_size=batch_size, cache=cache, weights=weights,
                         on_progress=on_progress, should_stop=should_stop)
    return tables_from_embeddings(data, result, loaded)


def embedding_table(paths, result: Embeddings, loaded: LoadedModel, top_k=None):
    """``geophoto embed``'s table: one row per path (the image column first), features
    ``n0...``, label columns for models with classes, and the ``error`` of each row.
    ``top_k``: that many label columns whatever the rows hold (every part of a dataset
    then has the same columns); by default as many as the rows have."""
    from Orange.data import ContinuousVariable, StringVariable
    from orangecontrib.geophoto.tables import append_columns, table_from_paths
    data = table_from_paths(paths)
    columns = None
    if top_k is not None and result.labels is not None:
        columns = min(top_k, len(loaded.class_names or ()))
    labels = tables_from_embeddings(data, result, loaded, columns).labels
    extra = [] if labels is None else [(v, labels.get_column(v))
                                       for v in labels.domain.metas[len(data.domain.metas):]]
    features = [(ContinuousVariable(f"n{i}"), result.features[:, i])
                for i in range(loaded.dim)]
    return append_columns(data, attributes=features,
                          metas=extra + [(StringVariable("error"), result.errors)])


def tables_from_embeddings(data, result: Embeddings, loaded: LoadedModel,
                           label_columns: Optional[int] = None) -> EmbedResult:
    from Orange.data import ContinuousVariable, StringVariable
    from orangecontrib.geophoto.tables import append_columns, subset
    ok = np.array([not e for e in result.errors], dtype=bool)
    features = []
    for i in range(loaded.dim):
        var = ContinuousVariable(f"n{i}")
        var.attributes["hidden"] = True
        features.append((var, result.features[:, i]))
    embedded = append_columns(data, attributes=features)
    embedded.name = "Embedded images"
    embeddings = subset(embedded, ok, "Embedded images")
    skipped = None
    if not ok.all():
        with_reason = append_columns(data, metas=[(StringVariable(SKIP_REASON),
                                                   result.errors)])
        skipped = subset(with_reason, ~ok, "Skipped images")
    labels = None
    if result.labels is not None:
        k = label_columns if label_columns is not None else \
            max((len(row) for row in result.labels if row), default=0)
        columns = []
        for j in range(k):
            columns.append((StringVariable(f"label {j + 1}"),
                            [row[j][0] if row and len(row) > j else ""
                             for row in result.labels]))
            columns.append((ContinuousVariable(f"probability {j + 1}", number_of_decimals=3),
                            [row[j][1] if row and len(row) > j else np.nan
                             for row in result.labels]))
        from orangecontrib.geophoto.embedders.imagenet import placemark_name
        names = [placemark_name([name for name, _ in row]) if row else ""
                 for row in result.labels]
        labels = append_columns(data, metas=[(StringVariable(NAME), names)] + columns)
        labels.name = "Labels"
    return EmbedResult(embeddings, skipped, labels)
