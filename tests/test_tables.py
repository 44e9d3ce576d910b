"""Shared table helpers: column conventions, append without loss, files by extension."""
import os

import numpy as np
import pytest
from Orange.data import ContinuousVariable, Domain, StringVariable, Table, TimeVariable

from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.tables import (
    append_columns, atomic_path, coordinates, find_image_column, find_lat_lon, image_paths,
    read_table, table_from_paths, valid_coordinates, write_table,
)


def _geo_table():
    lat, lon = ContinuousVariable("latitude"), ContinuousVariable("longitude")
    taken = TimeVariable("time (UTC)", have_date=True, have_time=True)
    image = StringVariable("image")
    image.attributes["type"] = "image"
    domain = Domain([lat, lon, taken], metas=[image])
    X = np.array([[45.43, 12.33, 1.5e9], [np.nan, np.nan, np.nan], [-33.9, 151.2, 1.6e9]])
    metas = np.array([["a.jpg"], ["b ščž.jpg"], ["c.jpg"]], dtype=object)
    return Table.from_numpy(domain, X, metas=metas)


def test_image_column_from_paths_is_marked_and_found():
    paths = sample_photo_paths()
    table = table_from_paths(paths)
    var = find_image_column(table)
    assert var.attributes["type"] == "image"
    assert image_paths(table, var) == paths


def test_image_paths_join_origin_and_keep_urls():
    var = StringVariable("image")
    var.attributes.update(type="image", origin="/photos")
    table = Table.from_numpy(Domain([], metas=[var]), np.empty((3, 0)),
                             metas=np.array([["sub/a.jpg"], ["https://x.org/b.jpg"], [""]],
                                            dtype=object))
    assert image_paths(table, var) == ["/photos/sub/a.jpg", "https://x.org/b.jpg", None]


def test_find_lat_lon_prefers_true_over_predicted():
    table = _geo_table()
    pred = [(ContinuousVariable("latitude (predicted)"), [1, 2, 3]),
            (ContinuousVariable("longitude (predicted)"), [4, 5, 6])]
    both = append_columns(table, attributes=pred)
    lat, lon = find_lat_lon(both)
    assert (lat.name, lon.name) == ("latitude", "longitude")
    only_pred = both.transform(Domain(both.domain.attributes[3:], metas=both.domain.metas))
    lat, lon = find_lat_lon(only_pred)
    assert (lat.name, lon.name) == ("latitude (predicted)", "longitude (predicted)")
    assert find_lat_lon(table_from_paths(["x.jpg"])) == (None, None)


def test_valid_coordinates_rejects_missing_and_out_of_range():
    latlon = np.array([[45, 12], [np.nan, 3], [91, 0], [0, -181], [-90, 180]], dtype=float)
    assert valid_coordinates(latlon).tolist() == [True, False, False, False, True]


def test_append_columns_renames_duplicates_and_keeps_rows():
    table = _geo_table()
    out = append_columns(table, attributes=[(ContinuousVariable("latitude"), [1, 2, 3])],
                         metas=[(StringVariable("place"), ["x", "", "z"])])
    assert len(out) == len(table)
    assert [v.name for v in out.domain.attributes][-1] == "latitude (1)"
    np.testing.assert_array_equal(out.get_column("latitude (1)"), [1, 2, 3])
    assert list(out.get_column("place")) == ["x", "", "z"]
    np.testing.assert_array_equal(coordinates(out, *find_lat_lon(out))[0], [45.43, 12.33])


@pytest.mark.parametrize("ext", [".csv", ".tab", ".pkl"])
def test_tables_round_trip_by_extension(tmp_path, ext):
    table = _geo_table()
    path = str(tmp_path / f"out{ext}")
    write_table(table, path)
    back = read_table(path)
    assert len(back) == len(table)
    np.testing.assert_allclose(back.get_column("latitude"), table.get_column("latitude"))
    assert list(back.get_column("image")) == list(table.get_column("image"))
    assert find_image_column(back).name == "image"
    assert [f for f in os.listdir(tmp_path)] == [f"out{ext}"]  # no temporary left over
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not private like a temp file


def test_csv_has_one_plain_header_row(tmp_path):
    path = str(tmp_path / "t.csv")
    write_table(_geo_table(), path)
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0] == "image,latitude,longitude,time (UTC)"
    assert len(lines) == 4
    assert lines[2].startswith("b ščž.jpg,,,")


def test_unsupported_extension_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unsupported table format .xlsx"):
        write_table(_geo_table(), str(tmp_path / "t.xlsx"))
    with pytest.raises(FileNotFoundError):
        read_table(str(tmp_path / "missing.csv"))


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.kml"
    with pytest.raises(RuntimeError):
        with atomic_path(str(target)) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("cancelled")
    assert list(tmp_path.iterdir()) == []
