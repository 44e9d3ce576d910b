"""GeoJSON, GeoParquet and GeoPackage: the table's readable columns as points (WGS 84).

All three are streamed: rows are converted and written a chunk at a time into the
temporary file beside the target, so a million rows need little more memory than the
table itself. GeoJSON is written feature by feature as text; GeoParquet (1.1) in row groups
with pyarrow, a WKB point column and the "geo" file metadata, so geopandas, GDAL and
DuckDB read points; GeoPackage by GDAL (pyogrio) from the same Arrow batches, streamed.
"""
import json
import os

import numpy as np

from orangecontrib.geophoto.export.options import ExportOptions, ExportSummary
from orangecontrib.geophoto.export.privacy import exported_positions
from orangecontrib.geophoto.export.table import cell, iso, values_of, visible_columns
from orangecontrib.geophoto.progress import Cancelled, check_stop, no_progress
from orangecontrib.geophoto.tables import atomic_path, printable

VECTOR_EXTENSIONS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG",
                     ".parquet": "GeoParquet"}
CHUNK = 5000             # rows converted and written at a time (GeoJSON, GeoPackage)
ROW_GROUP = 65536        # rows in a GeoParquet row group
# GDAL's way of saying lon/lat WGS 84 in GeoJSON (read back as EPSG:4326)
GEOJSON_CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}


def write_vector(data, path: str, options: ExportOptions = None, on_progress=None,
                 should_stop=None) -> ExportSummary:
    """Points with every visible column (features such as n0... left out); times as ISO
    8601 UTC text (GeoParquet, GeoPackage: UTC timestamps), discrete values as their
    labels. Rows without a position, or with an impossible one, are left out and counted
    in the summary."""
    options = options or ExportOptions()
    on_progress = on_progress or no_progress
    ext = os.path.splitext(path)[1].lower()
    if ext not in VECTOR_EXTENSIONS:
        raise ValueError(f"{path}: vector export writes .geojson, .parquet or .gpkg")
    exported = exported_positions(data, options)
    check_stop(should_stop)
    columns = [(var, values_of(data, var, exported.replaced))
               for var in visible_columns(data) if var.name not in exported.hidden]
    writer = {".gpkg": _write_geopackage, ".parquet": _write_geoparquet}.get(ext,
                                                                           _write_geojson)
    with atomic_path(path) as tmp:
        writer(tmp, exported, columns, on_progress, should_stop)
        check_stop(should_stop)
    on_progress(1.0)
    return ExportSummary(path, len(exported.located), exported.without_position,
                         predicted=int(exported.predicted[exported.located].sum()),
                         impossible=exported.impossible)


def _chunks(located: np.ndarray, size: int, on_progress, should_stop):
    """The located rows a chunk at a time (one empty chunk when there are none), with
    progress after each and a cancel check before."""
    total = max(1, len(located))
    for start in range(0, max(1, len(located)), size):
        check_stop(should_stop)
        yield located[start:start + size]
        on_progress(min(len(located), start + size) / total)


def _values(var, values: np.ndarray) -> list:
    """A chunk of a column as JSON-ready values: None where missing."""
    if var.is_time:
        return [iso(t) if np.isfinite(t) else None for t in values.astype(float)]
    if var.is_discrete:
        return [cell(var, x) or None for x in values]
    if var.is_continuous:
        return [float(x) if np.isfinite(x) else None for x in values.astype(float)]
    return [None if x is None else printable(str(x)) for x in values]


# --- GeoJSON -------------------------------------------------------------------------------

def _write_geojson(tmp, exported, columns, on_progress, should_stop):
    """A FeatureCollection written feature by feature."""
    names = [var.name for var, _ in columns]
    with open(tmp, "w", encoding="utf-8") as f:
        f.write('{"type": "FeatureCollection", "name": "photos", "crs": '
                + json.dumps(GEOJSON_CRS) + ',\n"features": [')
        first = True
        for rows in _chunks(exported.located, CHUNK, on_progress, should_stop):
            values = [_values(var, column[rows]) for var, column in columns]
            lines = []
            for i, (lat, lon) in enumerate(zip(exported.lat[rows], exported.lon[rows])):
                lines.append(json.dumps(
                    {"type": "Feature",
                     "properties": dict(zip(names, (v[i] for v in values))),
                     "geometry": {"type": "Point",
                                  "coordinates": [float(lon), float(lat)]}},
                    ensure_ascii=False, allow_nan=False))
            if lines:
                f.write(("\n" if first else ",\n") + ",\n".join(lines))
                first = False
        f.write("\n]}\n")


# --- GeoParquet ----------------------------------------------------------------------------

def wkb_points(lon: np.ndarray, lat: np.ndarray):
    """A pyarrow binary array of little-endian WKB points (21 bytes each), made in one go
    with NumPy."""
    import pyarrow as pa
    n = len(lon)
    records = np.empty(n, dtype=[("order", "u1"), ("type", "<u4"), ("x", "<f8"),
                                 ("y", "<f8")])
    records["order"], records["type"], records["x"], records["y"] = 1, 1, lon, lat
    offsets = np.arange(0, 21 * (n + 1), 21, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(records.tobytes())])


def _arrow_type(var):
    import pyarrow as pa
    if var.is_time:
        return pa.timestamp("ms", tz="UTC")
    return pa.float64() if var.is_continuous else pa.string()


def _arrow_values(var, values: np.ndarray):
    import pyarrow as pa
    if var.is_time or var.is_continuous:
        values = values.astype(float)
        missing = ~np.isfinite(values)
        if var.is_time:
            values = np.round(np.where(missing, 0, values) * 1000).astype(np.int64)
        return pa.array(values, type=_arrow_type(var), mask=missing)
    return pa.array(_values(var, values), type=pa.string())


def geo_metadata(column: str, lat: np.ndarray, lon: np.ndarray) -> dict:
    """GeoParquet 1.1 file metadata for a WKB point column in WGS 84 (lon, lat)."""
    from pyproj import CRS
    meta = {"encoding": "WKB", "geometry_types": ["Point"],
            "crs": CRS.from_epsg(4326).to_json_dict()}
    if len(lat):
        meta["bbox"] = [float(lon.min()), float(lat.min()), float(lon.max()),
                        float(lat.max())]
    return {"version": "1.1.0", "primary_column": column, "columns": {column: meta}}


def _arrow_schema(columns):
    """The columns' Arrow types and a WKB point column named "geometry" (or a free name);
    ``(schema, geometry column name)``."""
    import pyarrow as pa
    from Orange.data.util import get_unique_names
    geometry = get_unique_names([var.name for var, _ in columns], "geometry")
    schema = pa.schema([pa.field(var.name, _arrow_type(var)) for var, _ in columns]
                       + [pa.field(geometry, pa.binary())])
    return schema, geometry


def _arrow_batches(schema, exported, columns, size, on_progress, should_stop):
    """Record batches of ``size`` located rows, made one at a time as they are asked for."""
    import pyarrow as pa
    for rows in _chunks(exported.located, size, on_progress, should_stop):
        arrays = [_arrow_values(var, column[rows]) for var, column in columns]
        arrays.append(wkb_points(exported.lon[rows], exported.lat[rows]))
        yield pa.record_batch(arrays, schema=schema)


def _write_geoparquet(tmp, exported, columns, on_progress, should_stop):
    """Row groups of ``ROW_GROUP`` rows; the "geo" metadata goes in the schema, known
    before the first row (the positions are already in memory)."""
    import pyarrow.parquet as pq
    located = exported.located
    schema, geometry = _arrow_schema(columns)
    geo = geo_metadata(geometry, exported.lat[located], exported.lon[located])
    schema = schema.with_metadata({"geo": json.dumps(geo)})
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for batch in _arrow_batches(schema, exported, columns, ROW_GROUP, on_progress,
                                    should_stop):
            writer.write_batch(batch)


# --- GeoPackage ----------------------------------------------------------------------------

def _write_geopackage(tmp, exported, columns, on_progress, should_stop):
    """A layer "photos" written by GDAL from a stream of record batches, made as GDAL
    reads them (one open dataset, so the spatial index is built once at the end)."""
    import pyarrow as pa
    import pyogrio
    os.remove(tmp)  # GDAL creates the file itself
    schema, geometry = _arrow_schema(columns)
    stopped = []

    def batches():
        try:
            yield from _arrow_batches(schema, exported, columns, CHUNK * 4, on_progress,
                                      should_stop)
        except Cancelled as ex:  # GDAL sees a failed stream; the caller sees this
            stopped.append(ex)
            raise

    try:
        pyogrio.write_arrow(pa.RecordBatchReader.from_batches(schema, batches()), tmp,
                            layer="photos", driver="GPKG", geometry_name=geometry,
                            geometry_type="Point", crs="EPSG:4326")
    except Exception:
        if stopped:
            raise stopped[0] from None
        raise
