"""KML/KMZ/GeoJSON/GeoPackage export read back by GDAL (pyogrio), geopandas and an XML
parser, compared with the input table's own values."""
import os
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pyogrio
import pytest
from Orange.data import ContinuousVariable, DiscreteVariable, Domain, Table

from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.exif import geotag_table
from orangecontrib.geophoto.export import (
    ExportOptions, circle, coarsen, export, placemark_names,
)
from orangecontrib.geophoto.geocode import reverse_geocode_table
from orangecontrib.geophoto.geolocate.metrics import haversine_km
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import append_columns, table_from_paths

KML_NS = {"k": "http://www.opengis.net/kml/2.2"}


@pytest.fixture(scope="module")
def photos():
    table = reverse_geocode_table(geotag_table(table_from_paths(sample_photo_paths())))
    cluster = DiscreteVariable("cluster", values=("C1", "C2"))
    return append_columns(table, attributes=[(cluster, np.arange(len(table)) % 2)])


def _located(table):
    lat = table.get_column("latitude")
    return np.flatnonzero(np.isfinite(lat))


def test_kmz_read_back_by_gdal_with_thumbnails_folders_and_times(tmp_path, photos):
    path = str(tmp_path / "photos.kmz")
    summary = export(photos, path, ExportOptions(group="cluster", thumbnail_size=120,
                                                 time_line=True))
    rows = _located(photos)
    assert (summary.placemarks, summary.without_position) == (len(rows), 1)
    layers = [name for name, _ in pyogrio.list_layers(f"/vsizip/{path}/doc.kml")]
    assert {"C1", "C2"} <= set(layers)
    read = [pyogrio.read_dataframe(f"/vsizip/{path}/doc.kml", layer=c) for c in ("C1", "C2")]
    points = np.array([(g.y, g.x) for frame in read for g in frame.geometry])
    expected = np.column_stack([photos.get_column("latitude")[rows],
                                photos.get_column("longitude")[rows]])
    assert len(points) == len(rows)
    assert np.allclose(sorted(map(tuple, points)), sorted(map(tuple, expected)), atol=1e-7)
    with zipfile.ZipFile(path) as kmz:
        thumbs = [n for n in kmz.namelist() if n.startswith("files/")]
        assert len(thumbs) == len(rows)
        from PIL import Image
        with kmz.open(thumbs[0]) as f, Image.open(f) as im:
            assert max(im.size) == 120
        root = ET.fromstring(kmz.read("doc.kml"))
    whens = [w.text for w in root.iter("{http://www.opengis.net/kml/2.2}when")]
    assert len(whens) == len(rows) and all(w.endswith("Z") for w in whens)
    descriptions = [d.text for d in root.iter("{http://www.opengis.net/kml/2.2}description")]
    assert all("<img src=\"files/" in d for d in descriptions)
    assert any("Venice" in d for d in descriptions)
    lines = list(root.iter("{http://www.opengis.net/kml/2.2}LineString"))
    assert len(lines) == 1


def test_names_from_template_and_defaults(photos):
    names = placemark_names(photos, "{place} ({country code})")
    rows = _located(photos)
    assert all(names[r] == "Venice (IT)" for r in rows)
    assert placemark_names(photos)[0] == "Venice"  # no `name` column: the place
    with pytest.raises(ValueError, match="unknown column nope"):
        placemark_names(photos, "{nope}")


def test_balloon_escapes_html(tmp_path, photos):
    from Orange.data import StringVariable
    note = StringVariable("note")
    table = append_columns(photos, metas=[(note, ["<script>alert(1)</script> & co"] *
                                           len(photos))])
    path = str(tmp_path / "p.kml")
    export(table, path, ExportOptions(thumbnail_size=0))
    text = open(path, encoding="utf-8").read()
    assert "<script>" not in text.replace("&lt;script&gt;", "")
    root = ET.parse(path).getroot()
    description = next(root.iter("{http://www.opengis.net/kml/2.2}description")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in description


def test_geojson_and_geopackage_read_back(tmp_path, photos):
    import geopandas
    rows = _located(photos)
    for ext in (".geojson", ".gpkg"):
        path = str(tmp_path / f"photos{ext}")
        export(photos, path)
        frame = geopandas.read_file(path)
        assert len(frame) == len(rows)
        assert frame.crs.to_epsg() == 4326
        np.testing.assert_allclose(frame.geometry.y, photos.get_column("latitude")[rows])
        assert set(frame["place"]) == {"Venice"}
        assert "time (UTC)" in frame.columns


def test_predicted_positions_get_uncertainty_circles(tmp_path):
    lat, lon = ContinuousVariable("latitude (predicted)"), \
        ContinuousVariable("longitude (predicted)")
    radius = ContinuousVariable("uncertainty (m)")
    table = Table.from_numpy(Domain([lat, lon, radius]),
                             np.array([[45.43, 12.33, 500.0], [46.05, 14.5, 2000.0]]))
    path = str(tmp_path / "pred.kml")
    export(table, path)
    polygons = pyogrio.read_dataframe(path)
    polygons = polygons[polygons.geometry.geom_type == "Polygon"]
    assert len(polygons) == 2
    ring = np.array(polygons.geometry.iloc[0].exterior.coords)
    d = haversine_km(45.43, 12.33, ring[:, 1], ring[:, 0]) * 1000
    np.testing.assert_allclose(d, 500, rtol=1e-3)
    assert circle(0, 0, 1000)[0] == pytest.approx(circle(0, 0, 1000)[-1])


def test_privacy_coarsens_positions(photos):
    lat = photos.get_column("latitude").astype(float)
    lon = photos.get_column("longitude").astype(float)
    ok = np.isfinite(lat)
    glat, glon = coarsen(lat, lon, grid_m=1000)
    moved = haversine_km(lat[ok], lon[ok], glat[ok], glon[ok]) * 1000
    assert (moved <= 1000).all() and (moved > 0).all()
    assert len(set(zip(glat[ok], glon[ok]))) < ok.sum()  # nearby photos share a cell
    plat, plon = coarsen(lat, lon, to_place=True)
    assert len(set(zip(plat[ok], plon[ok]))) == 1  # all in Venice: Venice's point
    assert np.isnan(plat[~ok]).all()


def test_cancelled_or_failed_export_leaves_no_file(tmp_path, photos):
    path = tmp_path / "out.kmz"
    calls = []

    def stop_later():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        export(photos, str(path), should_stop=stop_later)
    assert os.listdir(tmp_path) == []
    existing = tmp_path / "keep.kml"
    existing.write_text("old")
    with pytest.raises(ValueError):
        export(photos, str(existing), ExportOptions(name_template="{nope}"))
    assert existing.read_text() == "old"
    with pytest.raises(ValueError, match="latitude and longitude"):
        export(table_from_paths(["a.jpg"]), str(tmp_path / "x.kml"))


# --- schema, escaping, thumbnails, predicted rows, privacy -------------------------------

def _schemas():
    import pykml
    from lxml import etree
    folder = os.path.join(os.path.dirname(pykml.__file__), "schemas")
    return [etree.XMLSchema(etree.parse(os.path.join(folder, name)))
            for name in ("ogckml22.xsd", "kml22gx.xsd")]


def _assert_valid(document: bytes):
    from lxml import etree
    tree = etree.fromstring(document)
    for schema in _schemas():
        assert schema.validate(tree), [str(e) for e in schema.error_log][:5]


def _predicted_table():
    lat, lon = ContinuousVariable("latitude"), ContinuousVariable("longitude")
    plat, plon = ContinuousVariable("latitude (predicted)"), \
        ContinuousVariable("longitude (predicted)")
    radius = ContinuousVariable("uncertainty (m)")
    x = np.array([[45.4375, 12.3358, 45.44, 12.33, 800.0],      # true position
                  [np.nan, np.nan, 46.0569, 14.5058, 1500.0],   # predicted only
                  [np.nan, np.nan, np.nan, np.nan, np.nan]])    # nothing
    return Table.from_numpy(Domain([lat, lon, plat, plon, radius]), x)


def test_kml_and_kmz_validate_against_the_ogc_and_google_schemas(tmp_path, photos):
    kml, kmz = str(tmp_path / "p.kml"), str(tmp_path / "p.kmz")
    options = ExportOptions(group="cluster", time_line=True, thumbnail_size=64)
    export(photos, kml, options)
    export(photos, kmz, options)
    with open(kml, "rb") as f:
        _assert_valid(f.read())
    with zipfile.ZipFile(kmz) as archive:
        assert archive.namelist()[0] == "doc.kml"
        _assert_valid(archive.read("doc.kml"))
    circles = str(tmp_path / "c.kml")
    export(_predicted_table(), circles)
    with open(circles, "rb") as f:
        _assert_valid(f.read())


NASTY = ['<b>bold</b> & "quotes" \'too\' &amp; &lt;',
         "x<![CDATA[y]]></name><description><script>alert(1)</script></description>",
         "tab\there\x01control"]


def test_names_stay_literal_and_balloons_carry_no_markup(tmp_path, photos):
    from html.parser import HTMLParser
    from Orange.data import StringVariable
    note = StringVariable("note")
    values = [NASTY[i % len(NASTY)] for i in range(len(photos))]
    table = append_columns(photos, metas=[(note, values)])
    rows = _located(table)
    for ext in (".kml", ".kmz"):
        path = str(tmp_path / f"nasty{ext}")
        export(table, path, ExportOptions(name_template="{note}", thumbnail_size=32))
        source = f"/vsizip/{path}/doc.kml" if ext == ".kmz" else path
        names = list(pyogrio.read_dataframe(source)["Name"])
        expected = [values[r].replace("\x01", "") for r in rows]
        assert names == expected
        if ext == ".kmz":
            with zipfile.ZipFile(path) as archive:
                root = ET.fromstring(archive.read("doc.kml"))
        else:
            root = ET.parse(path).getroot()
        placemarks = list(root.iter(f"{{{KML_NS['k']}}}Placemark"))
        assert [p.findtext("k:name", namespaces=KML_NS) for p in placemarks] == expected
        for placemark in placemarks:
            tags = []

            class Tags(HTMLParser):
                def handle_starttag(self, tag, attrs):
                    tags.append(tag)

            Tags().feed(placemark.findtext("k:description", namespaces=KML_NS))
            assert set(tags) <= {"img", "br", "table", "tr", "th", "td"}


def _rotated_photo(folder):
    """A real sample photo re-saved with EXIF orientation 6 (rotate 90 degrees)."""
    from PIL import Image
    source = next(p for p, lat in zip(sample_photo_paths(), _sample_latitudes()) if lat == lat)
    target = os.path.join(folder, "rotated.jpg")
    with Image.open(source) as im:
        exif = im.getexif()
        exif[0x0112] = 6
        im.save(target, exif=exif)
        return target, im.size


def _sample_latitudes():
    return geotag_table(table_from_paths(sample_photo_paths())).get_column("latitude")


def test_kmz_thumbnails_are_exif_rotated_and_carry_no_gps(tmp_path):
    from PIL import Image
    photo, (width, height) = _rotated_photo(str(tmp_path))
    table = geotag_table(table_from_paths([photo]))
    path = str(tmp_path / "rotated.kmz")
    export(table, path, ExportOptions(thumbnail_size=100))
    with zipfile.ZipFile(path) as archive:
        (thumb,) = [n for n in archive.namelist() if n.startswith("files/")]
        with archive.open(thumb) as f, Image.open(f) as im:
            assert max(im.size) == 100
            assert (im.size[0] > im.size[1]) == (height > width)  # turned upright
            assert not im.getexif().get_ifd(0x8825)  # no GPS in the shared archive


def test_rows_fall_back_to_predicted_positions_with_circles(tmp_path):
    from orangecontrib.geophoto.export import positions
    table = _predicted_table()
    lat, lon, predicted = positions(table)
    assert list(predicted) == [False, True, False]
    path = str(tmp_path / "mixed.kml")
    summary = export(table, path)
    assert (summary.placemarks, summary.predicted, summary.without_position) == (2, 1, 1)
    frame = pyogrio.read_dataframe(path)
    points = frame[frame.geometry.geom_type == "Point"]
    polygons = frame[frame.geometry.geom_type == "Polygon"]
    np.testing.assert_allclose(sorted(points.geometry.y), sorted(lat[:2]))
    assert len(polygons) == 1  # only the predicted row gets its circle
    ring = np.array(polygons.geometry.iloc[0].exterior.coords)
    d = haversine_km(lat[1], lon[1], ring[:, 1], ring[:, 0]) * 1000
    np.testing.assert_allclose(d, table.get_column("uncertainty (m)")[1], rtol=1e-3)
    export(table, path, ExportOptions(uncertainty_circles=False))
    frame = pyogrio.read_dataframe(path)
    assert (frame.geometry.geom_type == "Point").all()


def test_privacy_reaches_balloons_and_attribute_tables(tmp_path, photos):
    rows = _located(photos)
    exact = [f"{x:.8g}" for x in photos.get_column("latitude")[rows]]
    options = ExportOptions(privacy_grid_m=2000, thumbnail_size=0)
    kml = str(tmp_path / "private.kml")
    export(photos, kml, options)
    text = open(kml, encoding="utf-8").read()
    assert not any(value in text for value in exact)
    assert "place distance" not in text
    gpkg = str(tmp_path / "private.gpkg")
    export(photos, gpkg, options)
    import geopandas
    frame = geopandas.read_file(gpkg)
    np.testing.assert_allclose(frame["latitude"], frame.geometry.y)
    assert "place distance (km)" not in frame.columns
    moved = haversine_km(photos.get_column("latitude")[rows], photos.get_column(
        "longitude")[rows], frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy())
    assert (moved * 1000 <= 2000).all() and (moved > 0).all()
