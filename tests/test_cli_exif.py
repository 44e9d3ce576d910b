"""`geophoto exif` end to end, as a user runs it in a terminal."""
import csv
import os
import subprocess
import sys

import numpy as np

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
from orangecontrib.geophoto.tables import read_table


def test_folder_to_csv_first_column_is_the_path(tmp_path):
    bad = tmp_path / "photos" / "sub" / "broken.jpg"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\xff\xd8\xff\xe1 not really")
    for path in sample_photo_paths()[:3]:
        os.symlink(path, tmp_path / "photos" / os.path.basename(path))
    out = tmp_path / "geotags.csv"
    assert main(["-q", "exif", str(tmp_path / "photos"), "-o", str(out)]) == 0
    with open(out, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[0] == "image"
    assert len(rows) == 4  # three photos and the broken file, found recursively
    broken = next(r for r in rows if r["image"].endswith("broken.jpg"))
    assert broken["error"] and broken["latitude"] == ""
    located = [r for r in rows if r["latitude"]]
    assert len(located) == 2  # venice-1003.jpg is shipped without GPS
    assert all(45 < float(r["latitude"]) < 46 and 12 < float(r["longitude"]) < 13
               for r in located)


def test_tab_and_pkl_outputs_read_back_as_orange_tables(tmp_path):
    for ext in (".tab", ".pkl"):
        out = str(tmp_path / f"g{ext}")
        assert main(["-q", "exif", SAMPLE_PHOTOS, "-o", out]) == 0
        table = read_table(out)
        assert len(table) == len(sample_photo_paths())
        assert np.isfinite(table.get_column("latitude")).sum() == 8


def test_fatal_errors_are_one_line_and_non_zero(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "geophoto")
    bad_out = subprocess.run([exe, "exif", SAMPLE_PHOTOS, "-o", str(tmp_path / "x.xlsx")],
                             capture_output=True, text=True)
    assert bad_out.returncode != 0
    assert bad_out.stderr.strip().count("\n") == 0
    assert "x.xlsx" in bad_out.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    none = subprocess.run([exe, "exif", str(empty)], capture_output=True, text=True)
    assert none.returncode == 1 and "no image files" in none.stderr


def test_missing_file_keeps_its_row_and_exit_is_zero(tmp_path, capsys):
    assert main(["-q", "exif", str(tmp_path / "gone.jpg")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith(str(tmp_path / "gone.jpg"))
    assert next(csv.DictReader(printed))["error"] == "file not found"
