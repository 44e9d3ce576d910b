"""Streamed GeoJSON and GeoParquet exports (export/vector.py) read back by GDAL (pyogrio),
geopandas and pyarrow, compared with the input table's own values; written while
streaming (the temporary file grows during the export)."""
import csv
import glob
import json
import os
import subprocess
import sys

import geopandas
import numpy as np
import pyarrow.parquet as pq
import pyogrio
import pytest
from Orange.data import (
    ContinuousVariable, DiscreteVariable, Domain, StringVariable, Table, TimeVariable,
)

from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.exif import geotag_table
from orangecontrib.geophoto.export import ExportOptions, export
from orangecontrib.geophoto.export import vector
from orangecontrib.geophoto.geocode import reverse_geocode_table
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import append_columns, table_from_paths, write_table
from tests.conftest import ROOT, venice_or_skip

STREAMED = (".geojson", ".parquet")


def read_back(path):
    """A GeoDataFrame of the file: GDAL for GeoJSON, geopandas' GeoParquet reader."""
    if path.endswith(".parquet"):
        return geopandas.read_parquet(path)
    return pyogrio.read_dataframe(path)


@pytest.fixture(scope="module")
def photos():
    """The sample photos geotagged from their EXIF and geocoded offline, with a cluster."""
    table = reverse_geocode_table(geotag_table(table_from_paths(sample_photo_paths())))
    cluster = DiscreteVariable("cluster", values=("C1", "C2"))
    return append_columns(table, attributes=[(cluster, np.arange(len(table)) % 2)])


def venice_table(n):
    """``n`` rows cycling the real Venice photos, with their positions, a UTC time, a
    place and a label."""
    folder = os.path.join(venice_or_skip(), "images")
    with open(os.path.join(venice_or_skip(), "labels.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    picked = [rows[i % len(rows)] for i in range(n)]
    data = table_from_paths([os.path.join(folder, r["image"]) for r in picked], "venice")
    times = 1.6e9 + np.arange(n) * 61.5
    return append_columns(
        data,
        attributes=[(ContinuousVariable("latitude"), [float(r["latitude"]) for r in picked]),
                    (ContinuousVariable("longitude"), [float(r["longitude"]) for r in picked]),
                    (TimeVariable("time (UTC)", have_date=1, have_time=1), times)],
        metas=[(StringVariable("place"), ["Venice"] * n),
               (StringVariable("name"), [f"gondola {i}" for i in range(n)])])


@pytest.mark.parametrize("ext", STREAMED)
def test_points_and_attributes_read_back(tmp_path, photos, ext):
    path = str(tmp_path / f"photos{ext}")
    summary = export(photos, path)
    frame = read_back(path)
    lat, lon = photos.get_column("latitude"), photos.get_column("longitude")
    rows = np.flatnonzero(np.isfinite(lat))
    assert len(frame) == len(rows) == summary.placemarks > 0
    assert frame.crs.to_epsg() == 4326
    assert (frame.geometry.geom_type == "Point").all()
    np.testing.assert_allclose(frame.geometry.y, lat[rows])
    np.testing.assert_allclose(frame.geometry.x, lon[rows])
    np.testing.assert_allclose(frame["latitude"], lat[rows])
    assert list(frame["place"]) == list(photos.get_column("place")[rows])
    assert list(frame["cluster"]) == [("C1", "C2")[i % 2] for i in rows]
    image = photos.domain["image"] if "image" in photos.domain else None
    if image is not None:
        assert list(frame["image"]) == list(photos.get_column(image)[rows])
    assert not any(c.startswith("n0") for c in frame.columns)


def test_geoparquet_types_and_metadata(tmp_path):
    data = venice_table(50)
    path = str(tmp_path / "photos.parquet")
    export(data, path)
    parquet = pq.ParquetFile(path)
    geo = json.loads(parquet.schema_arrow.metadata[b"geo"])
    assert geo["version"] == "1.1.0" and geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB" and column["geometry_types"] == ["Point"]
    lat, lon = data.get_column("latitude"), data.get_column("longitude")
    np.testing.assert_allclose(column["bbox"], [lon.min(), lat.min(), lon.max(), lat.max()])
    frame = geopandas.read_parquet(path)
    # times are UTC timestamps, not text
    assert str(frame["time (UTC)"].dtype) == "datetime64[ms, UTC]"
    np.testing.assert_allclose(frame["time (UTC)"].astype("int64") / 1000,
                               data.get_column("time (UTC)"))
    assert list(frame["name"]) == [f"gondola {i}" for i in range(50)]


def test_geojson_is_rfc7946_text_with_missing_values_as_null(tmp_path):
    domain = Domain([ContinuousVariable("latitude"), ContinuousVariable("longitude"),
                     ContinuousVariable("altitude (m)")], metas=[StringVariable("note")])
    table = Table.from_numpy(domain, np.array([[45.43, 12.33, np.nan], [45.44, 12.34, 3.5]]),
                             metas=np.array([["été"], [""]], dtype=object))
    path = str(tmp_path / "p.geojson")
    export(table, path)
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    features = document["features"]
    assert [f["geometry"]["coordinates"] for f in features] == [[12.33, 45.43],
                                                                 [12.34, 45.44]]
    assert features[0]["properties"]["altitude (m)"] is None
    assert features[1]["properties"]["altitude (m)"] == 3.5
    assert features[0]["properties"]["note"] == "été"


@pytest.mark.parametrize("ext", STREAMED)
@pytest.mark.parametrize("grid", [0, 5000])
def test_impossible_coordinates_are_left_off(tmp_path, ext, grid):
    lat = [45.4375, 95.0, 10.0, -91.0, np.inf, np.nan]
    lon = [12.3358, 12.0, 200.0, 12.0, 12.0, np.nan]
    domain = Domain([], metas=[ContinuousVariable("latitude"),
                               ContinuousVariable("longitude")])
    metas = np.array([lat, lon], dtype=object).T
    table = Table.from_numpy(domain, np.empty((6, 0)), metas=metas)
    path = str(tmp_path / f"p{ext}")
    summary = export(table, path, ExportOptions(privacy_grid_m=grid))
    frame = read_back(path)
    assert len(frame) == 1 and abs(frame.geometry.y.iloc[0] - 45.4375) < 0.1
    assert (summary.placemarks, summary.impossible, summary.without_position) == (1, 4, 1)


@pytest.mark.parametrize("ext", STREAMED)
def test_privacy_coarsens_points_and_columns(tmp_path, ext):
    table = reverse_geocode_table(venice_table(3))
    table = append_columns(table, metas=[(ContinuousVariable("place distance (km)"),
                                          [0.4, 0.5, 0.6])])
    path = str(tmp_path / f"private{ext}")
    export(table, path, ExportOptions(privacy_grid_m=50_000))
    frame = read_back(path)
    assert "place distance (km)" not in frame.columns
    np.testing.assert_allclose(frame["latitude"], frame.geometry.y)
    assert len(np.unique(frame.geometry.y)) == 1
    assert abs(frame.geometry.y.iloc[0] - table.get_column("latitude")[0]) > 1e-3


@pytest.mark.parametrize("ext", STREAMED)
def test_written_while_streaming(tmp_path, monkeypatch, ext):
    """With small chunks the temporary file beside the target grows between progress
    reports; a Parquet file holds one row group per chunk."""
    monkeypatch.setattr(vector, "CHUNK", 400)
    monkeypatch.setattr(vector, "ROW_GROUP", 400)
    n = 2000
    data = venice_table(n)
    path = str(tmp_path / f"stream{ext}")
    sizes = []

    def on_progress(_):
        temporary = glob.glob(str(tmp_path / ".geophoto-*"))
        if temporary:
            sizes.append(os.path.getsize(temporary[0]))

    summary = export(data, path, on_progress=on_progress)
    assert summary.placemarks == n
    assert len(sizes) >= 5 and sizes[0] > 0
    assert all(b > a for a, b in zip(sizes, sizes[1:]))
    assert os.listdir(tmp_path) == [os.path.basename(path)]
    if ext == ".parquet":
        assert pq.ParquetFile(path).metadata.num_row_groups == n // 400
    assert len(read_back(path)) == n


@pytest.mark.parametrize("ext", STREAMED + (".gpkg",))
def test_cancelled_mid_way_leaves_nothing(tmp_path, monkeypatch, ext):
    monkeypatch.setattr(vector, "CHUNK", 100)
    monkeypatch.setattr(vector, "ROW_GROUP", 100)
    calls = []
    path = str(tmp_path / f"p{ext}")
    with pytest.raises(Cancelled):
        export(venice_table(1000), path, on_progress=calls.append,
               should_stop=lambda: len(calls) >= 2)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("ext", STREAMED + (".gpkg",))
def test_no_located_rows_gives_an_empty_layer(tmp_path, ext):
    domain = Domain([ContinuousVariable("latitude"), ContinuousVariable("longitude")])
    table = Table.from_numpy(domain, np.full((2, 2), np.nan))
    path = str(tmp_path / f"empty{ext}")
    summary = export(table, path)
    assert (summary.placemarks, summary.without_position) == (0, 2)
    assert len(read_back(path)) == 0


def test_gpkg_streamed_in_batches_reads_back_whole(tmp_path, monkeypatch):
    """GeoPackage streamed to GDAL in record batches: every row, a column missing in the
    first batch still filled from the later ones, UTC times typed, a spatial index."""
    monkeypatch.setattr(vector, "CHUNK", 100)
    data = venice_table(1000)
    note = ["" if i < 500 else f"note {i}" for i in range(1000)]
    data = append_columns(data, metas=[(StringVariable("note"), note)])
    path = str(tmp_path / "p.gpkg")
    export(data, path)
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == 1000
    assert list(frame["note"][500:]) == note[500:]
    np.testing.assert_allclose(frame.geometry.y, data.get_column("latitude"))
    assert str(frame["time (UTC)"].dtype) == "datetime64[ms, UTC]"
    column = pyogrio.read_info(path)["geometry_name"]
    index = pyogrio.read_dataframe(path, sql=f"SELECT HasSpatialIndex('photos', '{column}')")
    assert index.iloc[0, 0] == 1


def test_cli_writes_geoparquet(tmp_path):
    source = str(tmp_path / "t.csv")
    write_table(venice_table(20), source)
    out = str(tmp_path / "out.parquet")
    done = subprocess.run([sys.executable, "-m", "orangecontrib.geophoto.cli", "kml", source,
                           "-o", out], env={**os.environ, "PYTHONPATH": ROOT},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "20 placemarks written" in done.stderr
    assert len(geopandas.read_parquet(out)) == 20
