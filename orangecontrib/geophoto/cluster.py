"""The core's per-photo maps on a Dask cluster, and Parquet datasets of their results (no Qt).

Photos are cut into partitions of a few hundred; each partition runs the single-process core
(``exif.read_geotags``, ``embedders.embed_paths``, ``geolocate.predict_table``) on one
worker, so the results are those of a single-process run, in the same order. A worker keeps
a loaded model for its lifetime (``embedders.models._LOADED`` caches it per process), so a
model is loaded once per worker, not once per partition.

With an output folder, each worker writes its partition as ``part-NNNNN.parquet`` (a
temporary name, then a rename: a part file is complete or absent), so a retried task (a
worker died) rewrites the same part and ``--resume`` skips the parts already there. The
client only gathers small summaries and keeps ``_manifest.json`` up to date.

    >>> from dask.distributed import Client
    >>> from orangecontrib.geophoto.embedders import embed_paths
    >>> embed_paths(paths, client=Client("tcp://scheduler:8786"))
"""
import glob
import hashlib
import json
import logging
import math
import os
import re
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

PART_SIZE = 256
MANIFEST = "_manifest.json"
FORMAT = "geophoto-parquet/1"
SPEC_KEY = b"geophoto"
STATS_KEY = b"geophoto-stats"
GEOMETRY = "geometry"
_PART = "part-{:05d}.parquet"
_LOG_LEVEL = logging.ERROR


class ClusterError(Exception):
    """A run that cannot go on (no scheduler, workers dying, a foreign output folder);
    the message is one line for the user."""


# --- connecting ---------------------------------------------------------------------------

@contextmanager
def connect(workers: Optional[int] = None, address: Optional[str] = None,
            timeout: float = 5.0):
    """A ``dask.distributed.Client``: of a LocalCluster of ``workers`` processes (one
    thread each, on 127.0.0.1) or of the scheduler at ``address``; closed (and the local
    cluster with it) when the block ends, also on Ctrl+C or SIGTERM."""
    from dask.distributed import Client, LocalCluster
    logging.getLogger("distributed").setLevel(_LOG_LEVEL)
    cluster = None
    if address:
        try:
            client = Client(address, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as ex:
            raise ClusterError(f"no Dask scheduler answers at {address} within {timeout:g} s "
                               f"({_first_line(ex)})") from None
    else:
        if not workers or workers < 1:
            raise ClusterError("--workers must be at least 1")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=_dashboard_address(),
                               silence_logs=_LOG_LEVEL)
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dashboard_address():
    """Port 0 (any free one) when bokeh is there to serve the dashboard, else none."""
    try:
        import bokeh  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return None
    return "127.0.0.1:0"


def dashboard(client) -> Optional[str]:
    """The dashboard's address, or None where the scheduler serves none (a LocalCluster
    without bokeh)."""
    try:
        info = client.scheduler_info()
        if "dashboard" not in info.get("services", {}):
            return None
        if client.cluster is not None and _dashboard_address() is None:
            return None
        return client.dashboard_link
    except Exception:  # pylint: disable=broad-except
        return None


def _first_line(ex: BaseException) -> str:
    return (str(ex).strip().splitlines() or [type(ex).__name__])[0][:300]


# --- partitions and jobs ------------------------------------------------------------------

def partitions(items: Sequence, size: int = PART_SIZE) -> List[Sequence]:
    """Consecutive slices of at most ``size`` items (order kept, so concatenating the
    partitions' results gives the single-process order)."""
    if size < 1:
        raise ValueError("the partition size must be at least 1")
    return [items[i:i + size] for i in range(0, len(items), size)]


@dataclass
class Job:
    """A map over partitions: ``func(item, *extra)`` returns the Orange Table (or, for the
    Python API, any result) of one partition. ``sizes`` are the rows each partition
    gives; ``identity`` names the inputs and options, so ``--resume`` refuses a folder
    written by another command."""
    command: str
    func: Callable
    items: List[Any]
    sizes: List[int]
    arguments: Dict[str, Any] = field(default_factory=dict)
    extra: tuple = ()
    identity: str = ""

    def __post_init__(self):
        if not self.identity:
            digest = hashlib.sha1(json.dumps([self.command, self.arguments], sort_keys=True,
                                             default=str).encode())
            for item in self.items:
                digest.update(repr(item).encode("utf-8", "surrogateescape"))
            self.identity = digest.hexdigest()


@dataclass
class Summary:
    """What a run gave: rows, rows with an error, rows with a position, the parts written
    (and how many were already there), and the gathered results when nothing was written."""
    rows: int = 0
    errors: int = 0
    located: int = 0
    parts: int = 0
    resumed: int = 0
    results: Optional[List[Any]] = None


def path_job(command: str, func: Callable, paths: Sequence[str], size: int = PART_SIZE,
             arguments=None, extra=()) -> Job:
    """A job over partitions of photo paths."""
    parts = [list(p) for p in partitions(list(paths), size)]
    return Job(command, func, parts, [len(p) for p in parts], dict(arguments or {}),
               tuple(extra))


def run_job(job: Job, client=None, output: Optional[str] = None, resume: bool = False,
            on_progress: Optional[Callable[[float], None]] = None) -> Summary:
    """Run every partition of ``job`` on the client's workers (in this process when
    ``client`` is None). With ``output`` (a folder), workers write Parquet parts and the
    results stay there; without, the results come back in partition order."""
    on_progress = on_progress or (lambda _: None)
    if output is None:
        if resume:
            raise ClusterError("--resume needs an output folder (-o OUT.parquet)")
        results = _map(client, job, list(range(len(job.items))), _compute, (), on_progress)
        return Summary(rows=sum(job.sizes), parts=len(results),
                       results=[results[i] for i in range(len(job.items))])
    output = os.path.abspath(output)
    done = _prepare_folder(output, job, resume)
    manifest = Manifest(output, job, done)
    todo = [i for i in range(len(job.items)) if i not in done]
    try:
        _map(client, job, todo, _write_part, (output,), on_progress, manifest.add)
    finally:
        _remove_temporary(output)
        manifest.save(force=True)
    return manifest.summary(len(job.items) - len(todo))


def _map(client, job: Job, indices: List[int], task, args, on_progress,
         on_result: Callable = None) -> Dict[int, Any]:
    """Run ``task(job.func, item, index, *args, *job.extra)`` for each index; results by
    index. Errors: a ModelError, OSError or ValueError of a task as is, workers dying
    again and again as a ClusterError."""
    results: Dict[int, Any] = {}
    total = max(len(indices), 1)

    def keep(index, result):
        results[index] = result
        if on_result is not None:
            on_result(index, result)
        on_progress(len(results) / total)

    if client is None:
        for i in indices:
            keep(i, task(job.func, job.items[i], i, *args, *job.extra))
        return results
    from dask.distributed import as_completed
    run = uuid.uuid4().hex[:8]  # a run's own keys: another client's run never shares them
    futures = {client.submit(task, job.func, job.items[i], i, *args, *job.extra,
                             key=f"geophoto-{job.command}-{run}-{i}", pure=False): i
               for i in indices}
    try:
        for future in as_completed(futures):
            keep(futures[future], _result(future, futures[future]))
    finally:
        client.cancel(list(futures))
    return results


def _result(future, index: int):
    from distributed.scheduler import KilledWorker
    try:
        return future.result()
    except KilledWorker:
        raise ClusterError(f"workers died again and again running partition {index} (out of "
                           "memory, or a crash such as while loading the model); see the "
                           "workers' logs") from None
    except (ClusterError, OSError, ValueError):
        raise
    except Exception as ex:  # pylint: disable=broad-except
        from orangecontrib.geophoto.embedders.models import ModelError
        if isinstance(ex, ModelError):
            raise
        raise ClusterError(f"partition {index} failed on a worker: {type(ex).__name__}: "
                           f"{_first_line(ex)}") from None


def _compute(func, item, index, *extra):
    return func(item, *extra)


# --- the parts' tasks ---------------------------------------------------------------------

def exif_part(paths, placement=None):
    """EXIF Geotag's table of these paths (``geophoto exif``'s columns)."""
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.tables import table_from_paths
    return geotag_table(table_from_paths(paths), placement=placement)


def geotags_part(paths):
    from orangecontrib.geophoto.exif import read_geotags
    return read_geotags(paths)


def embed_part(paths, model, layer, top, batch_size, cache, weights="imagenet"):
    """``geophoto embed``'s table of these paths; the model is loaded once per worker."""
    from orangecontrib.geophoto.embedders import embed_paths, embedding_table, load_model
    loaded = load_model(model, layer, weights)
    result = embed_paths(paths, loaded, top_k=top, batch_size=batch_size, cache=cache)
    return embedding_table(paths, result, loaded, top)


def embeddings_part(paths, model, layer, top, batch_size, cache, weights):
    from orangecontrib.geophoto.embedders import embed_paths
    return embed_paths(paths, model, layer, top, batch_size, cache, weights)


def photos2kml_part(paths, online, language):
    """The combined table ``geophoto photos2kml`` exports: geotags, places, labels."""
    from orangecontrib.geophoto.embedders import embed_table
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.geocode import reverse_geocode_table
    from orangecontrib.geophoto.tables import table_from_paths
    table = geotag_table(table_from_paths(paths, "Photos"))
    table = reverse_geocode_table(table, online=online, language=language)
    return embed_table(table, top_k=5).labels


def geolocate_part(source, model, top):
    """Predictions for a chunk of the photos table or one part file of a dataset."""
    from orangecontrib.geophoto.geolocate import predict_table
    data = read_parquet_table(source) if isinstance(source, str) else source
    return predict_table(model, data, top=top)


# --- Parquet parts ------------------------------------------------------------------------

def part_name(index: int) -> str:
    return _PART.format(index)


def _write_part(func, item, index, folder, *extra) -> dict:
    """Compute a partition and write it as ``part-NNNNN.parquet``: to a temporary name in
    the folder first, then renamed, so a killed worker leaves a complete part or none, and
    a retry rewrites the same part."""
    import pyarrow.parquet as pq
    table = func(item, *extra)
    stats = table_stats(table)
    arrow = to_arrow(table, stats)
    path = os.path.join(folder, part_name(index))
    tmp = os.path.join(folder, f".{part_name(index)}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(arrow, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return {**stats, "file": part_name(index), "spec": _spec(arrow)}


def table_stats(table) -> dict:
    """Rows, rows with an error, rows with a (true or predicted) position."""
    names = {v.name: v for v in (*table.domain.variables, *table.domain.metas)}
    errors = 0
    if "error" in names and not names["error"].is_continuous:
        errors = sum(bool(e) and e == e for e in table.get_column(names["error"]))
    latlon = _position_vars(table.domain)
    located = 0
    if latlon is not None:
        from orangecontrib.geophoto.tables import coordinates, valid_coordinates
        located = int(valid_coordinates(coordinates(table, *latlon)).sum())
    return {"rows": len(table), "errors": int(errors), "located": located}


def _position_vars(domain):
    """Predicted coordinates where the table has them, else true ones."""
    from orangecontrib.geophoto.tables import find_lat_lon
    names = {v.name: v for v in (*domain.variables, *domain.metas) if v.is_continuous}
    if "latitude (predicted)" in names and "longitude (predicted)" in names:
        return names["latitude (predicted)"], names["longitude (predicted)"]
    lat, lon = find_lat_lon(SimpleNamespace(domain=domain))  # it looks at the domain only
    return None if lat is None else (lat, lon)


def _columns(domain):
    """(variable, role) in the order CSV writes them: the image column first."""
    images = [v for v in domain.metas if v.attributes.get("type") == "image"]
    columns = [(v, "meta") for v in images]
    columns += [(v, "attribute") for v in domain.attributes]
    columns += [(v, "class") for v in domain.class_vars]
    columns += [(v, "meta") for v in domain.metas if v not in images]
    return columns


_FEATURE = re.compile(r"n\d+$")


def _kind(var) -> str:
    if var.is_time:
        return "time"
    if var.is_continuous:
        return "continuous"
    if var.is_discrete:
        return "discrete"
    return "string"


def _var_spec(var, role) -> dict:
    spec = {"name": var.name, "kind": _kind(var), "role": role,
            "attributes": {k: v for k, v in var.attributes.items()
                           if isinstance(v, (str, int, float, bool))}}
    if var.is_continuous and not var.is_time and var.adjust_decimals != 2:
        spec["decimals"] = var.number_of_decimals
    if var.is_discrete:
        spec["values"] = list(var.values)
    return spec


def to_arrow(table, stats: Optional[dict] = None):
    """An Orange Table as an Arrow table with a fixed schema per domain (so every part of a
    dataset has the same one): numbers float64 (embedding features ``n0...`` float32, as
    the models give them), times UTC microseconds, categories as dictionaries, text as
    UTF-8; the Orange columns in the ``geophoto`` metadata, and a WKB point ``geometry``
    with GeoParquet's ``geo`` metadata when rows carry positions."""
    import pyarrow as pa
    arrays, fields, specs = [], [], []
    for var, role in _columns(table.domain):
        values = table.get_column(var)
        spec = _var_spec(var, role)
        array = _arrow_column(spec, values)
        specs.append(spec)
        arrays.append(array)
        fields.append(pa.field(var.name, array.type))
    metadata = {SPEC_KEY: json.dumps({"format": FORMAT, "columns": specs}).encode()}
    if stats is not None:
        metadata[STATS_KEY] = json.dumps(stats).encode()
    latlon = _position_vars(table.domain)
    if latlon is not None:
        from orangecontrib.geophoto.tables import coordinates
        arrays.append(_wkb_points(coordinates(table, *latlon)))
        fields.append(pa.field(GEOMETRY, pa.binary()))
        metadata[b"geo"] = json.dumps({
            "version": "1.0.0", "primary_column": GEOMETRY,
            "columns": {GEOMETRY: {"encoding": "WKB", "geometry_types": ["Point"]}},
        }).encode()  # no "crs": GeoParquet's default, OGC:CRS84 (WGS 84 lon/lat)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))


def _arrow_column(spec: dict, values):
    import pyarrow as pa
    kind = spec["kind"]
    if kind in ("continuous", "time"):
        x = np.asarray(values, dtype=float)
        missing = ~np.isfinite(x)
        if kind == "time":
            micro = np.where(missing, 0, np.round(np.where(missing, 0, x) * 1e6))
            return pa.array(micro.astype(np.int64), pa.timestamp("us", tz="UTC"),
                            mask=missing)
        if spec["role"] == "attribute" and _FEATURE.match(spec["name"]):
            return pa.array(x.astype(np.float32), pa.float32(), mask=missing)
        return pa.array(x, pa.float64(), mask=missing)
    if kind == "discrete":
        codes = np.asarray(values, dtype=float)
        missing = np.isnan(codes)
        indices = pa.array(np.where(missing, 0, codes).astype(np.int32), pa.int32(),
                           mask=missing)
        return pa.DictionaryArray.from_arrays(indices, pa.array(spec["values"], pa.string()))
    texts = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
             for v in values]
    try:
        return pa.array(texts, pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        from orangecontrib.geophoto.tables import printable
        return pa.array([printable(t) for t in texts], pa.string())


def _wkb_points(latlon: np.ndarray):
    """WKB points (x = longitude, y = latitude); null where there is no valid position."""
    import pyarrow as pa
    import shapely
    from orangecontrib.geophoto.tables import valid_coordinates
    ok = valid_coordinates(latlon)
    wkb = np.full(len(latlon), None, dtype=object)
    if ok.any():
        wkb[ok] = shapely.to_wkb(shapely.points(latlon[ok, 1], latlon[ok, 0]))
    return pa.array(list(wkb), pa.binary())


def _spec(arrow) -> list:
    return json.loads(arrow.schema.metadata[SPEC_KEY])["columns"]


def table_from_arrow(arrow, spec: Optional[list] = None):
    """An Orange Table from Arrow data written by :func:`to_arrow` (the same variables,
    roles and attributes; the geometry is left out: the coordinates are columns)."""
    from Orange.data import (ContinuousVariable, DiscreteVariable, Domain, StringVariable,
                             Table, TimeVariable)
    spec = spec or json.loads(arrow.schema.metadata[SPEC_KEY])["columns"]
    roles = {"attribute": [], "class": [], "meta": []}
    for col in spec:
        kind, name = col["kind"], col["name"]
        if kind == "time":
            var = TimeVariable(name, have_date=True, have_time=True)
        elif kind == "continuous":
            var = ContinuousVariable(name, number_of_decimals=col.get("decimals"))
        elif kind == "discrete":
            var = DiscreteVariable(name, values=col["values"])
        else:
            var = StringVariable(name)
        var.attributes.update(col["attributes"])
        roles[col["role"]].append((var, _orange_values(kind, arrow.column(name))))

    def matrix(pairs, dtype):
        if not pairs:
            return np.empty((arrow.num_rows, 0), dtype=dtype)
        return np.column_stack([np.asarray(v, dtype=dtype) for _, v in pairs])
    domain = Domain([v for v, _ in roles["attribute"]], [v for v, _ in roles["class"]],
                    [v for v, _ in roles["meta"]])
    Y = matrix(roles["class"], float)
    return Table.from_numpy(domain, matrix(roles["attribute"], float),
                            Y[:, 0] if Y.shape[1] == 1 else Y,
                            matrix(roles["meta"], object))


def _orange_values(kind: str, column):
    import pyarrow as pa
    import pyarrow.compute as pc
    if kind == "time":
        micro = pc.cast(column, pa.timestamp("us", tz="UTC")).cast(pa.int64())
        return micro.to_numpy(zero_copy_only=False).astype(float) / 1e6 \
            if column.null_count == 0 else \
            np.array([np.nan if v is None else v / 1e6 for v in micro.to_pylist()])
    if kind == "continuous":
        return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False),
                          dtype=float)
    if kind == "discrete":
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        indices = column.indices.to_numpy(zero_copy_only=False).astype(float)
        indices[column.is_null().to_numpy(zero_copy_only=False)] = np.nan
        return indices
    return np.array([v if v is not None else "" for v in column.to_pylist()], dtype=object)


def is_dataset_path(path: Optional[str]) -> bool:
    return bool(path) and os.path.splitext(path.rstrip("/\\"))[1].lower() == ".parquet"


def dataset_parts(path: str) -> List[str]:
    """The part files of a dataset folder (or the file itself), in order."""
    if os.path.isdir(path):
        return sorted(glob.glob(os.path.join(glob.escape(path), "part-*.parquet")))
    if os.path.isfile(path):
        return [path]
    raise FileNotFoundError(f"{path}: no such file or folder")


def read_parquet_table(path: str, sample: Optional[int] = None, seed: int = 0):
    """A geophoto Parquet dataset (folder) or part (file) as an Orange Table; ``sample``:
    that many rows drawn at random (in file order), for a first look at a large set."""
    import pyarrow.dataset as ds
    try:
        dataset = ds.dataset(dataset_parts(path), format="parquet")
        spec_json = (dataset.schema.metadata or {}).get(SPEC_KEY)
        if spec_json is None:
            raise ValueError(f"{path}: not a geophoto Parquet dataset (no Orange columns)")
        if sample is not None and sample < dataset.count_rows():
            rows = np.sort(np.random.default_rng(seed).choice(dataset.count_rows(), sample,
                                                              replace=False))
            arrow = dataset.take(rows)
        else:
            arrow = dataset.to_table()
    except OSError:
        raise
    except (ValueError, TypeError) as ex:
        raise ValueError(f"{path}: not a readable Parquet dataset ({_first_line(ex)})") \
            from None
    table = table_from_arrow(arrow, json.loads(spec_json)["columns"])
    table.name = os.path.splitext(os.path.basename(path.rstrip("/\\")))[0]
    return table


def write_dataset(table, folder: str, command: str = "", arguments=None,
                  size: int = PART_SIZE) -> Summary:
    """An in-memory table as a Parquet dataset (the single-process ``-o OUT.parquet``)."""
    rows = list(range(len(table)))
    chunks = [table[r[0]:r[-1] + 1] for r in partitions(rows, size)] or [table]
    job = Job(command, _as_is, chunks, [len(c) for c in chunks], dict(arguments or {}),
              identity=uuid.uuid4().hex)
    return run_job(job, output=folder)


def _as_is(table):
    return table


# --- the output folder --------------------------------------------------------------------

def _prepare_folder(folder: str, job: Job, resume: bool) -> Dict[int, dict]:
    """Create or reuse the folder; the parts already written when resuming. A folder that
    is not a geophoto dataset is never emptied."""
    manifest_path = os.path.join(folder, MANIFEST)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ClusterError(f"{folder}: exists and is not a folder; a Parquet output is a "
                           "folder of parts")
    entries = os.listdir(folder) if os.path.isdir(folder) else []
    ours = MANIFEST in entries
    if entries and not ours:
        raise ClusterError(f"{folder}: the folder exists and is not a geophoto dataset; "
                           "choose another output")
    if resume and ours:
        manifest = _read_manifest(manifest_path)
        if manifest.get("identity") != job.identity:
            raise ClusterError(f"{folder}: written by another command or from other inputs "
                               "or options; run without --resume to replace it")
        _remove_temporary(folder)
        return _parts_present(folder, job)
    os.makedirs(folder, exist_ok=True)
    for name in entries:
        if name.startswith(("part-", ".part-")) or name == MANIFEST:
            os.remove(os.path.join(folder, name))
    return {}


def _read_manifest(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _parts_present(folder: str, job: Job) -> Dict[int, dict]:
    """Complete parts (renamed into place only when complete) with the expected rows."""
    import pyarrow.parquet as pq
    done = {}
    for i, size in enumerate(job.sizes):
        path = os.path.join(folder, part_name(i))
        if not os.path.exists(path):
            continue
        try:
            meta = pq.read_metadata(path)
            stats = json.loads(meta.metadata[STATS_KEY])
            spec = json.loads(meta.metadata[SPEC_KEY])["columns"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if meta.num_rows == size:
            done[i] = {**stats, "file": part_name(i), "spec": spec}
    return done


def _remove_temporary(folder: str) -> None:
    for tmp in glob.glob(os.path.join(glob.escape(folder), ".part-*.tmp")):
        try:
            os.remove(tmp)
        except OSError:
            pass


class Manifest:
    """``_manifest.json``: command, arguments, partitions, the parts done with their row
    counts, and the schema; rewritten atomically, at most every few seconds."""

    def __init__(self, folder: str, job: Job, done: Dict[int, dict]):
        self.path = os.path.join(folder, MANIFEST)
        self.job = job
        self.done = dict(done)
        self._saved = 0.0
        self.save(force=True)

    def add(self, index: int, result: dict) -> None:
        self.done[index] = result
        self.save()

    def save(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._saved < 2.0:
            return
        self._saved = now
        from orangecontrib.geophoto.tables import atomic_path
        parts = {str(i): {k: r[k] for k in ("file", "rows", "errors", "located")}
                 for i, r in sorted(self.done.items())}
        spec = next((r["spec"] for r in self.done.values()), None)
        content = {
            "format": FORMAT, "command": self.job.command,
            "arguments": self.job.arguments, "identity": self.job.identity,
            "partitions": len(self.job.items), "rows_expected": sum(self.job.sizes),
            "complete": len(self.done) == len(self.job.items),
            "rows": sum(r["rows"] for r in self.done.values()),
            "parts": parts, "schema": spec,
        }
        with atomic_path(self.path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(content, f, indent=1, default=str)

    def summary(self, resumed: int) -> Summary:
        rows = self.done.values()
        return Summary(rows=sum(r["rows"] for r in rows),
                       errors=sum(r["errors"] for r in rows),
                       located=sum(r["located"] for r in rows),
                       parts=len(self.done), resumed=resumed)


# --- the Python API -----------------------------------------------------------------------

def read_geotags(client, paths: Sequence[Optional[str]], size: int = PART_SIZE,
                 on_progress=None) -> list:
    """``exif.read_geotags`` on the client's workers: one GeoTag per path, in order."""
    job = path_job("read_geotags", geotags_part, paths, size)
    parts = run_job(job, client, on_progress=on_progress).results
    return [tag for part in parts for tag in part]


def embed_paths(client, paths, model="squeezenet", layer=None, top_k=0, batch_size=32,
                cache=True, weights="imagenet", size: int = PART_SIZE, on_progress=None):
    """``embedders.embed_paths`` on the client's workers (the model by name or path: each
    worker loads it once)."""
    from orangecontrib.geophoto.embedders.pipeline import Embeddings
    if not isinstance(model, str):
        raise TypeError("on a cluster, give the model by name or path: each worker loads it")
    job = path_job("embed_paths", embeddings_part, paths, size,
                   extra=(model, layer, top_k, batch_size, cache, weights))
    parts = run_job(job, client, on_progress=on_progress).results
    if not parts:
        return Embeddings(np.empty((0, 0), np.float32), [], None)
    labels = None
    if any(p.labels is not None for p in parts):
        labels = [row for p in parts for row in (p.labels or [None] * len(p.errors))]
    return Embeddings(np.vstack([p.features for p in parts]),
                      [e for p in parts for e in p.errors], labels)


def concatenate(tables):
    """Gathered partition tables as one (the single-process table, row for row)."""
    from Orange.data import Table
    if len(tables) == 1:
        return tables[0]
    return Table.concatenate(tables)


def progress_line(client, quiet: bool) -> None:
    """The dashboard's address (and the workers) on stderr, unless quiet."""
    if quiet:
        return
    workers = len(client.scheduler_info().get("workers", {}))
    link = dashboard(client)
    print(f"dask: {workers} worker{'s' if workers != 1 else ''}"
          + (f", dashboard {link}" if link else ", no dashboard (install bokeh for one)"),
          file=sys.stderr)
