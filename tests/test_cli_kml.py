"""`geophoto kml`: a table with coordinates to KML/KMZ/GeoJSON/GeoPackage, read back."""
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pyogrio
import pytest

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS
from orangecontrib.geophoto.tables import read_table

KML = "{http://www.opengis.net/kml/2.2}"


def _texts(table, name):
    var = table.domain[name]
    return [var.str_val(x) for x in table.get_column(var)]


@pytest.fixture(scope="module")
def geotags(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("kml") / "geotags.csv")
    assert main(["-q", "exif", SAMPLE_PHOTOS, "-o", path]) == 0
    return path


def test_kml_with_group_name_template_and_columns(tmp_path, geotags, capsys):
    table = read_table(geotags)
    located = np.isfinite(table.get_column("latitude"))
    out = str(tmp_path / "g.kml")
    assert main(["kml", geotags, "-o", out, "--group", "camera model",
                 "--name", "{camera make}", "--column", "camera model",
                 "--column", "time (UTC)"]) == 0
    message = capsys.readouterr().err
    assert f"{located.sum()} placemarks written" in message
    assert f"{(~located).sum()} row" in message and "without a position left out" in message
    models, makes = _texts(table, "camera model"), _texts(table, "camera make")
    for model in {m for m, ok in zip(models, located) if ok}:
        frame = pyogrio.read_dataframe(out, layer=model)
        assert set(frame["Name"]) == {make for make, mo, ok in zip(makes, models, located)
                                      if ok and mo == model}
    description = next(ET.parse(out).getroot().iter(f"{KML}description")).text
    assert "camera model" in description and "time (UTC)" in description
    assert "latitude" not in description


def test_kmz_from_a_table_has_thumbnails(tmp_path, geotags):
    out = str(tmp_path / "g.kmz")
    assert main(["-q", "kml", geotags, "-o", out, "--thumbnail", "64", "--time-line"]) == 0
    located = int(np.isfinite(read_table(geotags).get_column("latitude")).sum())
    with zipfile.ZipFile(out) as kmz:
        assert len([n for n in kmz.namelist() if n.startswith("files/")]) == located
    frame = pyogrio.read_dataframe(f"/vsizip/{out}/doc.kml")
    assert (frame.geometry.geom_type == "Point").sum() == located
    assert (frame.geometry.geom_type == "LineString").sum() == 1


def test_geojson_and_gpkg_with_privacy(tmp_path, geotags):
    import geopandas
    table = read_table(geotags)
    located = np.isfinite(table.get_column("latitude"))
    for ext in ("geojson", "gpkg"):
        out = str(tmp_path / f"g.{ext}")
        assert main(["-q", "kml", geotags, "-o", out, "--coarsen", "1000"]) == 0
        points = geopandas.read_file(out)
        assert len(points) == located.sum()
        assert len(set(zip(points.geometry.x, points.geometry.y))) < located.sum()


def test_bad_arguments_are_one_line_errors(tmp_path, geotags, capsys):
    for args, expected in (
            (["-o", str(tmp_path / "g.shp")], "choose a .kml"),
            (["-o", str(tmp_path / "g.kml"), "--group", "nope"], "unknown group column"),
            (["-o", str(tmp_path / "g.kml"), "--name", "{nope}"], "unknown column nope"),
            (["-o", str(tmp_path / "g.kml"), "--column", "nope"], "unknown balloon column"),
            (["-o", str(tmp_path / "g.kmz"), "--thumbnail", "-5"], "--thumbnail")):
        assert main(["kml", geotags, *args]) == 1
        err = capsys.readouterr().err.strip()
        assert expected in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []
