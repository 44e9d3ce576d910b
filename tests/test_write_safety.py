"""Writing outputs safely (issue 10): file names that are not UTF-8, spreadsheet formulas
from untrusted metadata, signals during an export, errors and permissions of the target,
and a damaged embedding cache. Real photos, real commands."""
import csv
import json
import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import zipfile

import numpy as np
import piexif
import pytest
from Orange.data import StringVariable

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.tables import (
    append_columns, read_table, table_from_paths, write_table,
)
from tests.conftest import ROOT
from tests.exif_fixtures import copy_venice, gps_ifd, venice_labels, write_exif

UNDECODABLE = b"caf\xe9.jpg"  # Latin-1 bytes: not valid UTF-8


def geotagged_copy(folder, name, label, zeroth=None):
    """A real Venice photo copied to ``folder/name`` with its true position in EXIF."""
    image, lat, lon = label
    path = copy_venice(folder, image, name)
    write_exif(path, gps=gps_ifd(lat, lon), zeroth=zeroth)
    return path


def texts(table, name):
    """A column's cells as text (Orange may read a short text column as categorical)."""
    var = table.domain[name]
    return [var.str_val(x) for x in table.get_column(var)]


def undecodable_folder(tmp_path):
    """A folder with one photo under a name that is not UTF-8 and one ordinary photo."""
    folder = tmp_path / "photos"
    folder.mkdir()
    labels = venice_labels(2)
    try:
        bad = geotagged_copy(folder, os.fsdecode(UNDECODABLE), labels[0])
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    geotagged_copy(folder, "plain.jpg", labels[1])
    return folder, bad


# --- 1. file names that are not UTF-8 -----------------------------------------------------

@pytest.mark.parametrize("ext", [".csv", ".tab", ".pkl"])
def test_undecodable_file_name_keeps_its_row_in_every_table_format(tmp_path, ext):
    folder, bad = undecodable_folder(tmp_path)
    out = str(tmp_path / f"geotags{ext}")
    assert main(["-q", "exif", str(folder), "-o", out]) == 0
    table = read_table(out)
    assert len(table) == 2
    assert np.isfinite(table.get_column("latitude")).all()
    names = texts(table, "image")
    if ext == ".pkl":  # lossless: the very name the file system gave
        assert bad in names and os.path.exists(names[names.index(bad)])
    else:  # UTF-8 text, the undecodable byte shown as a readable escape
        with open(out, encoding="utf-8") as f:
            assert "caf\\xe9.jpg" in f.read()
        assert os.path.join(str(folder), "caf\\xe9.jpg") in names


def test_undecodable_file_name_is_embedded_and_written(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(tmp_path / "cache"))
    folder, _ = undecodable_folder(tmp_path)
    out = str(tmp_path / "embeddings.tab")
    assert main(["-q", "embed", str(folder), "--top", "2", "-o", out]) == 0
    table = read_table(out)
    assert sorted(texts(table, "image")) == [os.path.join(str(folder), "caf\\xe9.jpg"),
                                             os.path.join(str(folder), "plain.jpg")]
    assert np.isfinite(table.get_column("n0")).all()
    assert set(texts(table, "error")) <= {"", "?"}  # no reason: both embedded


def test_undecodable_file_name_reaches_kmz_and_geojson(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(tmp_path / "cache"))
    folder, _ = undecodable_folder(tmp_path)
    kmz, table = str(tmp_path / "out.kmz"), str(tmp_path / "all.pkl")
    assert main(["-q", "photos2kml", str(folder), "-o", kmz, "--table", table]) == 0
    with zipfile.ZipFile(kmz) as archive:
        document = archive.read("doc.kml").decode("utf-8")
        assert len([n for n in archive.namelist() if n.endswith(".jpg")]) == 2
    assert document.count("<Placemark") == 2
    assert "caf\\xe9" in document
    geojson = str(tmp_path / "out.geojson")
    assert main(["-q", "kml", table, "-o", geojson]) == 0
    with open(geojson, encoding="utf-8") as f:
        features = json.load(f)["features"]
    assert len(features) == 2
    assert any("caf\\xe9.jpg" in f["properties"]["image"] for f in features)


def test_csv_on_stdout_is_utf8_whatever_the_terminal_encoding(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    geotagged_copy(folder, "東京.jpg", venice_labels(1)[0])
    done = subprocess.run(
        [sys.executable, "-m", "orangecontrib.geophoto.cli", "-q", "exif", str(folder)],
        env={**os.environ, "PYTHONPATH": ROOT, "PYTHONIOENCODING": "ascii"},
        capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(done.stdout.decode("utf-8").splitlines()))
    assert [r["image"] for r in rows] == [str(folder / "東京.jpg")]
    assert 45 < float(rows[0]["latitude"]) < 46


# --- 2. spreadsheet formulas --------------------------------------------------------------

FORMULA = '=HYPERLINK("http://example.com/x","click")'


def test_formulas_in_metadata_are_not_live_in_csv_and_read_back_intact(tmp_path,
                                                                        monkeypatch):
    folder = tmp_path / "=photos"  # a relative path that itself starts with '='
    folder.mkdir()
    labels = venice_labels(2)
    geotagged_copy(folder, "a.jpg", labels[0],
                   zeroth={piexif.ImageIFD.Make: FORMULA.encode(),
                           piexif.ImageIFD.Model: b"@SUM(1+1)"})
    path = copy_venice(folder, labels[1][0], "b.jpg")  # below sea level: a negative number
    write_exif(path, gps=gps_ifd(labels[1][1], labels[1][2], altitude=-3.5))
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "exif", "=photos", "-o", "out.csv"]) == 0
    with open("out.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cells = [v for row in rows for v in row.values()]
    assert not [v for v in cells if _live(v)]
    assert rows[0]["image"] == "'=photos/a.jpg"
    assert rows[0]["camera make"] == "'" + FORMULA and rows[0]["camera model"] == "'@SUM(1+1)"
    assert rows[1]["altitude (m)"] == "-3.5"  # numbers are left as they are
    back = read_table("out.csv")
    assert texts(back, "camera make")[0] == FORMULA
    paths = texts(back, "image")
    assert paths == ["=photos/a.jpg", "=photos/b.jpg"]
    assert all(os.path.exists(p) for p in paths)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_neutralised_csv_text_reads_back_exactly(tmp_path):
    values = ["=1+1", "'=1+1", "''-x", "+x", "\tx", "\rx", "'", "'plain", "-4", "-", "@", "x"]
    out = str(tmp_path / "t.csv")
    table = table_from_paths(values)
    table = append_columns(table, metas=[(StringVariable("=cmd|' /C calc'!A0"), values)])
    write_table(table, out)
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    cells = [c for row in rows for c in row]
    assert [c for c in cells if _live(c)] == []
    assert [row[0] for row in rows][-4:] == ["-4", "'-", "'@", "x"]
    back = read_table(out)
    assert texts(back, "image") == values
    assert texts(back, "=cmd|' /C calc'!A0") == values


def _live(cell):
    """Would a spreadsheet read this cell as a formula?"""
    return cell[:1] in ("=", "+", "@", "\t", "\r") or cell[:1] == "-" and not _is_number(cell)


# --- 3. signals ---------------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_during_kmz_export_leaves_nothing_behind(tmp_path, signum):
    photos = tmp_path / "photos"
    photos.mkdir()
    for k, label in enumerate(venice_labels(200)):
        geotagged_copy(photos, f"p{k:03d}.jpg", label)
    scratch, out = tmp_path / "tmp", tmp_path / "out"
    scratch.mkdir()
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": ROOT, "TMPDIR": str(scratch),
           "GEOPHOTO_CACHE_DIR": str(tmp_path / "cache")}
    command = subprocess.Popen(
        [sys.executable, "-m", "orangecontrib.geophoto.cli", "-q", "photos2kml",
         str(photos), "-o", str(out / "venice.kmz"), "--thumbnail", "400"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        thumbnails = None
        deadline = time.monotonic() + 400
        while command.poll() is None and time.monotonic() < deadline:
            thumbnails = [f for _, _, files in os.walk(scratch) for f in files
                          if f.startswith("photo")]
            if thumbnails:
                break
            time.sleep(0.05)
        assert thumbnails, "the export ended before its thumbnails could be seen"
        command.send_signal(signum)
        _, err = command.communicate(timeout=120)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 128 + signum
    assert err.strip().splitlines() == ["geophoto: terminated"]
    assert os.listdir(out) == []  # neither the target nor a hidden temporary file
    assert os.listdir(scratch) == []


# --- 4. where the output goes -------------------------------------------------------------

def test_output_errors_name_the_path_asked_for(tmp_path, capsys):
    photo = sample_photo_paths()[0]
    (tmp_path / "a_file").write_text("not a folder")
    for target in (tmp_path / "missing" / "out.csv", tmp_path / "a_file" / "out.tab"):
        assert main(["-q", "exif", photo, "-o", str(target)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(target) in err
        assert ".geophoto-" not in err


def test_read_only_folder_error_names_the_path_asked_for():
    """The error names OUT, not the hidden temporary file. Root writes into read-only
    folders, so as root the command runs as nobody (setpriv)."""
    import shutil
    import tempfile
    base = tempfile.mkdtemp(prefix="geophoto-ro-")  # pytest's tmp_path is root's only
    try:
        os.chmod(base, 0o755)
        photo = os.path.join(base, "photo.jpg")
        shutil.copy(sample_photo_paths()[0], photo)
        os.chmod(photo, 0o644)
        folder = os.path.join(base, "ro")
        os.mkdir(folder)
        os.chmod(folder, 0o555)
        target = os.path.join(folder, "out.csv")
        command = [sys.executable, "-m", "orangecontrib.geophoto.cli", "-q", "exif", photo,
                   "-o", target]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root and setpriv is missing: root ignores modes")
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                       *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              cwd=base, env={**os.environ, "PYTHONPATH": ROOT, "HOME": base})
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and target in lines[0] and ".geophoto-" not in lines[0], lines
        assert os.listdir(folder) == []
    finally:
        os.chmod(os.path.join(base, "ro"), 0o755)
        shutil.rmtree(base)


def test_overwriting_keeps_permissions_and_symlinks(tmp_path):
    photo = sample_photo_paths()[0]
    kept = tmp_path / "kept.csv"
    kept.write_text("old")
    kept.chmod(0o640)
    assert main(["-q", "exif", photo, "-o", str(kept)]) == 0
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert kept.read_text(encoding="utf-8").startswith("image,")
    real = tmp_path / "data" / "real.tab"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.tab"
    link.symlink_to(real)
    assert main(["-q", "exif", photo, "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(read_table(str(real))) == 1
    assert sorted(os.listdir(tmp_path)) == ["data", "kept.csv", "link.tab"]
    assert os.listdir(real.parent) == ["real.tab"]


# --- 5. a damaged embedding cache ---------------------------------------------------------

def _damage(cache_dir, statement, params=()):
    (db,) = [os.path.join(cache_dir, f) for f in os.listdir(cache_dir)
             if f.endswith(".sqlite")]
    with sqlite3.connect(db) as connection:
        connection.execute(statement, params)
    connection.close()


@pytest.mark.parametrize("statement, params", [
    ("UPDATE embeddings SET features = substr(features, 1, 400)", ()),   # too short
    ("UPDATE embeddings SET features = ?", (b"\x00" * 4001,)),           # not float32s
    ("UPDATE embeddings SET top_index = substr(top_index, 1, 12)", ()),  # too few labels
    ("UPDATE embeddings SET top_index = ?",                              # no such class
     (np.arange(5000, 5020, dtype=np.int32).tobytes(),)),
    ("UPDATE embeddings SET top_prob = NULL", ()),
])
def test_damaged_cache_rows_are_recomputed_with_one_warning(tmp_path, monkeypatch, caplog,
                                                            statement, params):
    from orangecontrib.geophoto.embedders import embed_paths
    cache = tmp_path / "cache"
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(cache))
    paths = sample_photo_paths()[:3]
    fresh = embed_paths(paths, top_k=3)
    _damage(str(cache), statement, params)
    with caplog.at_level(logging.WARNING):
        again = embed_paths(paths, top_k=3)
    assert again.errors == ["", "", ""]
    np.testing.assert_allclose(again.features, fresh.features, rtol=1e-5, atol=1e-6)
    assert [[n for n, _ in row] for row in again.labels] == \
        [[n for n, _ in row] for row in fresh.labels]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # the recomputed rows replaced the bad ones
        embed_paths(paths, top_k=3)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
