"""GeoJSON and GeoPackage: the table's readable columns as points, through
geopandas/pyogrio (GDAL)."""
import os

import numpy as np

from orangecontrib.geophoto.export.options import ExportOptions, ExportSummary
from orangecontrib.geophoto.export.privacy import exported_positions
from orangecontrib.geophoto.export.table import cell, iso, values_of, visible_columns
from orangecontrib.geophoto.progress import check_stop, no_progress
from orangecontrib.geophoto.tables import atomic_path, printable

VECTOR_EXTENSIONS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}


def write_vector(data, path: str, options: ExportOptions = None, on_progress=None,
                 should_stop=None) -> ExportSummary:
    """Points with every visible column (features such as n0... left out); times as ISO
    8601 UTC text, discrete values as their labels. Rows without a position, or with an
    impossible one, are left out and counted in the summary."""
    import geopandas
    import pandas as pd
    options = options or ExportOptions()
    ext = os.path.splitext(path)[1].lower()
    if ext not in VECTOR_EXTENSIONS:
        raise ValueError(f"{path}: vector export writes .geojson or .gpkg")
    exported = exported_positions(data, options)
    lat, lon, located = exported.lat, exported.lon, exported.located
    check_stop(should_stop)
    columns = {}
    for var in visible_columns(data):
        if var.name in exported.hidden:
            continue
        values = values_of(data, var, exported.replaced, located)
        if var.is_time:
            values = [iso(t) if np.isfinite(t) else None for t in values.astype(float)]
        elif var.is_discrete:
            values = [cell(var, x) or None for x in values]
        elif var.is_continuous:
            values = values.astype(float)
        else:
            values = [None if x is None else printable(str(x)) for x in values]
        columns[var.name] = values
    frame = geopandas.GeoDataFrame(
        pd.DataFrame(columns, index=pd.RangeIndex(len(located))),
        geometry=geopandas.points_from_xy(lon[located], lat[located]), crs="EPSG:4326")
    with atomic_path(path) as tmp:
        os.remove(tmp)  # GDAL creates the file itself
        frame.to_file(tmp, driver=VECTOR_EXTENSIONS[ext],
                      layer="photos" if ext == ".gpkg" else None)
        check_stop(should_stop)
    (on_progress or no_progress)(1.0)
    return ExportSummary(path, len(located), exported.without_position,
                         predicted=int(exported.predicted[located].sum()),
                         impossible=exported.impossible)
