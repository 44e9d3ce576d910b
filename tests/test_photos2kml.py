"""`geophoto photos2kml`: the whole seed script (EXIF Geotag, Reverse Geocode, Local
Embedder labels, KMZ), end to end offline on the bundled sample photos."""
import csv
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pyogrio

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
from orangecontrib.geophoto.embedders.imagenet import imagenet_classes
from orangecontrib.geophoto.exif import geotag_table
from orangecontrib.geophoto.tables import table_from_paths


def test_photos2kml_on_the_sample_photos(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(tmp_path / "cache"))
    geotags = geotag_table(table_from_paths(sample_photo_paths()))
    located = np.isfinite(geotags.get_column("latitude"))
    kmz, table = str(tmp_path / "venice.kmz"), str(tmp_path / "venice.csv")
    assert main(["photos2kml", SAMPLE_PHOTOS, "-o", kmz, "--table", table,
                 "--time-line"]) == 0
    message = capsys.readouterr().err
    assert f"{located.sum()} placemarks written" in message
    assert f"{(~located).sum()} row" in message and "without a position left out" in message
    frame = pyogrio.read_dataframe(f"/vsizip/{kmz}/doc.kml")
    points = frame[frame.geometry.geom_type == "Point"]
    assert len(points) == located.sum()
    assert (frame.geometry.geom_type == "LineString").sum() == 1
    np.testing.assert_allclose(sorted(points.geometry.y),
                               sorted(geotags.get_column("latitude")[located]))
    classes = set(imagenet_classes())
    for name in points["Name"]:
        labels, place = name.rsplit(" - ", 1)
        assert place == "Venice"
        assert set(labels.split(" / ")) <= classes
    with zipfile.ZipFile(kmz) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".jpg")]) == located.sum()
        root = ET.fromstring(archive.read("doc.kml"))
    whens = list(root.iter("{http://www.opengis.net/kml/2.2}when"))
    assert len(whens) == located.sum()
    with open(table, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(geotags)  # every photo kept, the unlocated one too
    assert [r["country"] == "Italy" for r in rows] == list(located)


def test_photos2kml_without_any_position_is_a_clear_error(tmp_path, capsys):
    from PIL import Image
    Image.new("RGB", (32, 32), "red").save(tmp_path / "plain.jpg")
    assert main(["photos2kml", str(tmp_path), "-o", str(tmp_path / "x.kmz")]) == 1
    assert "none of the 1 photos has a position" in capsys.readouterr().err
    assert not (tmp_path / "x.kmz").exists()
