"""`geophoto photos2kml`: the whole seed script, end to end offline."""
import csv
import zipfile

import numpy as np
import pyogrio

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS
from orangecontrib.geophoto.embedders.imagenet import imagenet_classes


def test_photos2kml_on_the_sample_photos(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(tmp_path / "cache"))
    kmz, table = str(tmp_path / "venice.kmz"), str(tmp_path / "venice.csv")
    assert main(["-q", "photos2kml", SAMPLE_PHOTOS, "-o", kmz, "--table", table]) == 0
    frame = pyogrio.read_dataframe(f"/vsizip/{kmz}/doc.kml")
    assert len(frame) == 8  # the ninth photo has no position
    classes = set(imagenet_classes())
    for name in frame["Name"]:
        labels, place = name.rsplit(" - ", 1)
        assert place == "Venice"
        assert set(labels.split(" / ")) <= classes
    with zipfile.ZipFile(kmz) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".jpg")]) == 8
    with open(table, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and all(r["country"] == "Italy" for r in rows)

