"""`geophoto exif` then `geophoto geocode`, chained through CSV."""
import csv

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS


def test_exif_then_geocode(tmp_path):
    geotags, places = str(tmp_path / "g.csv"), str(tmp_path / "p.csv")
    assert main(["-q", "exif", SAMPLE_PHOTOS, "-o", geotags]) == 0
    assert main(["-q", "geocode", geotags, "-o", places]) == 0
    with open(places, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    located = [r for r in rows if r["latitude"]]
    assert len(located) == 8 and {r["country code"] for r in located} == {"IT"}
    assert all(float(r["place distance (km)"]) < 10 for r in located)
    assert [r["place"] for r in rows if not r["latitude"]] == [""]


def test_table_without_coordinates_is_an_error(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n")
    assert main(["geocode", str(path)]) == 1
    assert "no latitude and longitude" in capsys.readouterr().err
