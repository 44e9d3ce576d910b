"""Export on messy real-world input (issue 10): impossible coordinates, privacy that must
reach every place name, a streamed KML, image columns Orange guessed as categorical,
unreadable photos and a full temporary folder."""
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pyogrio
import pytest
from Orange.data import ContinuousVariable, Domain, StringVariable, Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.export import ExportOptions, export
from orangecontrib.geophoto.geocode import reverse_geocode, reverse_geocode_table
from orangecontrib.geophoto.tables import find_image_column, read_table, write_table
from tests.conftest import ROOT, venice_or_skip

KML = "{http://www.opengis.net/kml/2.2}"


def _points_table(lat, lon, names=None):
    """Coordinates as metas: Orange turns an infinity among the attributes into a missing
    value, but keeps it in metas (as a geocoder's output may have it)."""
    domain = Domain([], metas=[ContinuousVariable("latitude"), ContinuousVariable("longitude"),
                               StringVariable("note")])
    names = names or [f"row {i}" for i in range(len(lat))]
    metas = np.empty((len(lat), 3), dtype=object)
    metas[:, 0], metas[:, 1], metas[:, 2] = lat, lon, names
    return Table.from_numpy(domain, np.empty((len(lat), 0)), metas=metas)


def _venice_photos(n):
    folder = os.path.join(venice_or_skip(), "images")
    with open(os.path.join(venice_or_skip(), "labels.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    return [(os.path.join(folder, r["image"]), float(r["latitude"]), float(r["longitude"]))
            for r in rows]


def _run_cli(args, **kw):
    return subprocess.run([sys.executable, "-m", "orangecontrib.geophoto.cli", *args],
                          env={**os.environ, "PYTHONPATH": ROOT, **kw.pop("env", {})},
                          capture_output=True, text=True, timeout=300, **kw)


# --- 1. impossible coordinates -------------------------------------------------------------

IMPOSSIBLE_LAT = [45.4375, 95.0, 10.0, -91.0, np.inf, np.nan]
IMPOSSIBLE_LON = [12.3358, 12.0, 200.0, 12.0, 12.0, np.nan]


@pytest.mark.parametrize("ext", [".kml", ".kmz", ".geojson", ".gpkg"])
@pytest.mark.parametrize("grid", [0, 5000])
def test_impossible_coordinates_are_left_off_the_map_and_counted(tmp_path, ext, grid):
    table = _points_table(IMPOSSIBLE_LAT, IMPOSSIBLE_LON)
    path = str(tmp_path / f"p{ext}")
    summary = export(table, path, ExportOptions(privacy_grid_m=grid))
    source = f"/vsizip/{path}/doc.kml" if ext == ".kmz" else path
    frame = pyogrio.read_dataframe(source)
    assert len(frame) == 1  # only the one possible position is on the map
    assert abs(frame.geometry.y.iloc[0] - 45.4375) < 0.1
    assert (summary.placemarks, summary.impossible, summary.without_position) == (1, 4, 1)


def test_cli_counts_impossible_coordinates(tmp_path):
    table = _points_table(IMPOSSIBLE_LAT[:4], IMPOSSIBLE_LON[:4])
    source = str(tmp_path / "t.csv")
    write_table(table, source)
    out = str(tmp_path / "p.kml")
    done = _run_cli(["kml", source, "-o", out])
    assert done.returncode == 0, done.stderr
    assert "1 placemark written" in done.stderr
    assert "3 rows with impossible coordinates left off the map" in done.stderr
    assert len(pyogrio.read_dataframe(out)) == 1


# --- 2. privacy reaches every place name ----------------------------------------------------

def _near_porpetto():
    """A point 1.5 km from the village of Porpetto (Friuli), geocoded offline."""
    return reverse_geocode_table(_points_table([45.868, 45.4375], [13.228, 12.3358],
                                               ["home", "trip"]))


def test_coarsened_export_names_no_exact_village(tmp_path):
    table = _near_porpetto()
    assert table.get_column("place")[0] == "Porpetto"
    options = ExportOptions(privacy_grid_m=50_000, thumbnail_size=0, group="admin2")
    for ext in (".kml", ".geojson", ".gpkg"):
        path = str(tmp_path / f"private{ext}")
        export(table, path, options)
        if ext == ".gpkg":
            frame = pyogrio.read_dataframe(path)
            text = frame.to_json()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        assert "Porpetto" not in text, ext
        assert "distance" not in text, ext
    frame = pyogrio.read_dataframe(str(tmp_path / "private.geojson"))
    again = reverse_geocode(frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy())
    assert list(frame["place"]) == list(again["place"])
    assert list(frame["admin1"]) == list(again["admin1"])
    # the default placemark name is the place: the coarsened one
    export(_near_porpetto(), str(tmp_path / "names.kml"),
           ExportOptions(privacy_grid_m=50_000, thumbnail_size=0))
    root = ET.parse(str(tmp_path / "names.kml")).getroot()
    names = [p.findtext(f"{KML}name") for p in root.iter(f"{KML}Placemark")]
    points = pyogrio.read_dataframe(str(tmp_path / "names.kml"))
    assert names == list(reverse_geocode(points.geometry.y.to_numpy(),
                                         points.geometry.x.to_numpy())["place"])


def test_cli_coarsen_with_place_template(tmp_path):
    source = str(tmp_path / "t.csv")
    write_table(_near_porpetto(), source)
    out = str(tmp_path / "p.kml")
    done = _run_cli(["kml", source, "-o", out, "--coarsen", "50000",
                     "--name", "{note} - {place}"])
    assert done.returncode == 0, done.stderr
    with open(out, encoding="utf-8") as f:
        assert "Porpetto" not in f.read()


# --- 3. the KML is streamed ------------------------------------------------------------------

def test_kml_is_written_while_placemarks_are_made(tmp_path):
    """The placemarks go to the temporary file beside the target as they are made, not
    in one piece at the end (a million rows would not fit in memory)."""
    n = 20_000
    rng = np.random.default_rng(0)
    table = _points_table(rng.uniform(40, 50, n), rng.uniform(5, 15, n))
    sizes = []

    def progress(fraction):
        if 0.5 < fraction < 1:
            sizes.extend(os.path.getsize(tmp_path / name) for name in os.listdir(tmp_path)
                         if name.startswith(".geophoto-"))

    export(table, str(tmp_path / "big.kml"), on_progress=progress)
    assert sizes and max(sizes) > 100_000
    assert os.listdir(tmp_path) == ["big.kml"]
    assert len(pyogrio.read_dataframe(str(tmp_path / "big.kml"))) == n


def test_streamed_kmz_opens_in_gdal(tmp_path):
    """GDAL (and so QGIS) opens the KMZ: doc.kml is stored with its size known, not
    streamed into the archive with a data descriptor and zip64 fields."""
    n = 500
    rng = np.random.default_rng(1)
    table = _points_table(rng.uniform(40, 50, n), rng.uniform(5, 15, n))
    export(table, str(tmp_path / "big.kmz"))
    assert len(pyogrio.read_dataframe(str(tmp_path / "big.kmz"))) == n


# --- 4. an image column Orange guessed as categorical -----------------------------------------

def _photo_csv(tmp_path, photos, repeat=3):
    """A CSV whose image column repeats paths: Orange reads it as a DiscreteVariable."""
    path = str(tmp_path / "photos.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "latitude", "longitude"])
        for _ in range(repeat):
            writer.writerows(photos)
    return path


def test_categorical_image_column_still_gives_thumbnails(tmp_path):
    photos = _venice_photos(4)
    table = read_table(_photo_csv(tmp_path, photos))
    assert table.domain["image"].is_discrete  # what Orange guesses
    assert find_image_column(table).name == "image"
    out = str(tmp_path / "p.kmz")
    summary = export(table, out, ExportOptions(thumbnail_size=64))
    with zipfile.ZipFile(out) as kmz:
        assert len([n for n in kmz.namelist() if n.startswith("files/")]) == len(table)
    assert summary.thumbnails_failed == 0


def test_unreadable_photos_are_counted_in_summary_and_cli(tmp_path):
    photos = _venice_photos(8)
    broken = []
    for i, (path, lat, lon) in enumerate(photos[:3]):
        target = str(tmp_path / f"broken{i}.jpg")
        with open(path, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read()[:200])  # truncated inside the header
        broken.append((target, lat, lon))
    source = _photo_csv(tmp_path, broken + photos[3:], repeat=1)
    out = str(tmp_path / "p.kmz")
    summary = export(read_table(source), out, ExportOptions(thumbnail_size=64))
    assert (summary.placemarks, summary.thumbnails_failed, summary.photos) == (8, 3, 8)
    done = _run_cli(["kml", source, "-o", out, "--thumbnail", "64"])
    assert done.returncode == 0, done.stderr
    assert "thumbnails: 3 of 8 photos could not be read" in done.stderr


# --- 5. a full disk ---------------------------------------------------------------------------

def _tmpfs_run(tmp_path, mount, args, env=None, size="200k"):
    """Run the CLI with ``mount`` a tiny tmpfs, in a private mount namespace."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to mount a small tmpfs")
    os.makedirs(mount, exist_ok=True)
    env_text = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    command = (f"mount -t tmpfs -o size={size} tmpfs {mount} && "
               f"{env_text} {sys.executable} -m orangecontrib.geophoto.cli "
               + " ".join(f"'{a}'" for a in args) + f"; rc=$?; ls -A {mount}; exit $rc")
    done = subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": ROOT})
    if "mount:" in done.stderr and "permission denied" in done.stderr.lower():
        pytest.skip("cannot mount a tmpfs here")
    return done


def test_full_temporary_folder_is_an_error_not_missing_thumbnails(tmp_path):
    source = _photo_csv(tmp_path, _venice_photos(40), repeat=1)
    out = str(tmp_path / "p.kmz")
    done = _tmpfs_run(tmp_path, str(tmp_path / "small"),
                      ["kml", source, "-o", out, "--thumbnail", "320"],
                      env={"TMPDIR": str(tmp_path / "small")})
    assert done.returncode == 1, done.stderr
    assert "no space left on device while writing thumbnails" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout.strip() == ""  # the small tmpfs was left empty
    assert sorted(os.listdir(tmp_path)) == ["photos.csv", "small"]


def test_full_output_folder_leaves_no_partial_kmz(tmp_path):
    source = _photo_csv(tmp_path, _venice_photos(40), repeat=1)
    small = str(tmp_path / "small")
    done = _tmpfs_run(tmp_path, small,
                      ["kml", source, "-o", os.path.join(small, "p.kmz"),
                       "--thumbnail", "320"])
    assert done.returncode == 1, done.stderr
    assert "no space left on device while writing" in done.stderr
    assert done.stdout.strip() == ""  # no partial file left in the full folder


# --- the widget's message ---------------------------------------------------------------------

class TestWidgetMessages(WidgetTest):
    def test_widget_warns_about_impossible_coordinates(self):
        from orangecontrib.geophoto.widgets.owkmlexport import OWKMLExport
        folder = tempfile.mkdtemp()
        widget = self.widget = self.create_widget(OWKMLExport)
        widget.filename, widget.auto_save = os.path.join(folder, "w.kml"), True
        self.send_signal(widget.Inputs.data, _points_table(IMPOSSIBLE_LAT, IMPOSSIBLE_LON))
        self.wait_until_finished(timeout=60_000)
        message = str(widget.Warning.impossible)
        self.assertTrue(widget.Warning.impossible.is_shown())
        self.assertIn("4", message)
        self.assertLess(len(message), 80)
        self.assertIn("1 row", str(widget.Warning.without_position))
        self.assertEqual(len(pyogrio.read_dataframe(widget.filename)), 1)
        shutil.rmtree(folder)


def test_balloons_show_a_copied_column_once(tmp_path):
    """EXIF Geotag adds its own width/height beside Import Images' ("width (1)"): the
    command's balloons, like the widget's, show each fact once, and a copy whose values
    differ stays."""
    from orangecontrib.geophoto.datasets import sample_photo_paths
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.tables import table_from_paths, write_table
    tagged = geotag_table(table_from_paths(sample_photo_paths()))
    twice = geotag_table(tagged)  # every geotag column again, as "latitude (1)"...
    assert "width (1)" in [v.name for v in twice.domain.metas]
    path = str(tmp_path / "twice.pkl")
    write_table(twice, path)
    out = str(tmp_path / "twice.kml")
    assert main(["-q", "kml", path, "-o", out]) == 0
    with open(out, encoding="utf-8") as f:
        kml = f.read()
    assert "width" in kml and "width (1)" not in kml
