"""Writing geotags back (issue 14): real Venice photos (copies) placed by a GPX track made
from their labels, written as XMP sidecars, copies and in place; read back by exiftool and by
geophoto's own reader; image data compared by hash; faults (full disk, read-only files,
SIGTERM mid-batch) leave every original whole and no half-written or temporary file."""
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import piexif
import pytest
from Orange.data import ContinuousVariable, Domain, Table

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.exif import geotag_table, read_geotag
from orangecontrib.geophoto.tables import read_table, table_from_paths, write_table
from orangecontrib.geophoto.track import Placement, track_from_gpx
from orangecontrib.geophoto.writeback import (
    DRY_RUN, FAILED, REASON_COLUMN, STATUS_COLUMN, TAGGED, TARGET_COLUMN, UNCERTAIN,
    UNLOCATED, UNSUPPORTED, WRITTEN, GeotagRow, WriteOptions, write_geotags,
    write_geotags_table,
)
from tests.conftest import ROOT, VENICE
from tests.exif_fixtures import copy_venice, gps_ifd, venice_labels, write_exif, write_gpx

T0 = datetime(2019, 5, 18, 7, 0, 0, tzinfo=timezone.utc)
CEST = timezone(timedelta(hours=2))
EXIFTOOL = shutil.which("exiftool")


# --- fixtures: photos a track can place -------------------------------------------------

def timed_copies(folder, labels, t0=T0, step_s=60, names=None):
    """Copies of Venice photos with DateTimeOriginal (+02:00) ``t0 + k * step_s``: paths
    and the (UTC time, latitude, longitude) fixes of a track that passes each one."""
    os.makedirs(folder, exist_ok=True)
    paths, fixes = [], []
    for k, (image, lat, lon) in enumerate(labels):
        path = copy_venice(folder, image, names[k] if names else None)
        when = t0 + timedelta(seconds=k * step_s)
        write_exif(path, exif={
            piexif.ExifIFD.DateTimeOriginal:
                when.astimezone(CEST).strftime("%Y:%m:%d %H:%M:%S").encode(),
            piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"})
        paths.append(path)
        fixes.append((when, lat, lon))
    return paths, fixes


def placed_table(tmp_path, n=4, folder="photos"):
    """EXIF Geotag's table of ``n`` photos placed by a GPX track, and the fixes."""
    paths, fixes = timed_copies(tmp_path / folder, venice_labels(n))
    gpx = write_gpx(tmp_path / "walk.gpx", fixes)
    table = geotag_table(table_from_paths(paths), placement=Placement(track_from_gpx(gpx)))
    assert list(table.get_column("position source")) == [1.0] * n  # all by the track
    return table, paths, fixes


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def pixels(path):
    from PIL import Image
    with Image.open(path) as im:
        return hashlib.sha256(im.tobytes()).hexdigest(), im.size, im.mode


def jpeg_scan(path):
    """The compressed image data of a JPEG: from the SOS marker to EOI."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:2] == b"\xff\xd8"
    i = 2
    while data[i:i + 2] != b"\xff\xda":
        assert data[i] == 0xFF
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    end = data.rindex(b"\xff\xd9") + 2
    return hashlib.sha256(data[i:end]).hexdigest()


def exiftool(*paths, tags=("GPSLatitude", "GPSLongitude", "GPSAltitude", "GPSDateTime",
                           "GPSMapDatum", "GPSProcessingMethod", "GPSHPositioningError",
                           "PositionSource", "UncertaintyRadius", "Model")):
    if EXIFTOOL is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    out = subprocess.run([EXIFTOOL, "-n", "-j", *(f"-{t}" for t in tags), *map(str, paths)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def folder_state(folder):
    """Every file under ``folder`` with its hash and modification time."""
    state = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            state[os.path.relpath(path, folder)] = (sha(path), os.stat(path).st_mtime_ns)
    return state


def statuses(table):
    var = table.domain[STATUS_COLUMN]
    return [var.values[int(v)] for v in table.get_column(var)]


# --- round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sidecar", "copy", "inplace"])
def test_round_trip(tmp_path, mode):
    table, paths, fixes = placed_table(tmp_path)
    before = {p: (sha(p), pixels(p), jpeg_scan(p), os.stat(p).st_mtime_ns) for p in paths}
    out_dir = str(tmp_path / "copies")
    out, summary = write_geotags_table(table, WriteOptions(mode=mode, out_dir=out_dir))
    assert statuses(out) == [WRITTEN] * len(paths)
    assert (summary.written, summary.failed) == (len(paths), 0)
    assert summary.counts_text() == f"{len(paths)} written"
    targets = list(out.get_column(TARGET_COLUMN))
    expected = {"sidecar": [p + ".xmp" for p in paths],
                "copy": [os.path.join(out_dir, os.path.basename(p)) for p in paths],
                "inplace": paths}[mode]
    assert targets == expected

    for record, (when, lat, lon) in zip(exiftool(*targets), fixes):
        assert abs(record["GPSLatitude"] - lat) <= 1e-7
        assert abs(record["GPSLongitude"] - lon) <= 1e-7
        assert record["GPSDateTime"] == when.strftime("%Y:%m:%d %H:%M:%SZ")
        assert record["GPSMapDatum"] == "WGS-84"
        assert record["GPSProcessingMethod"] == "geophoto: track"
        assert record["PositionSource"] == "track"
    for path, target, (when, lat, lon) in zip(paths, targets, fixes):
        if mode != "sidecar":
            tag = read_geotag(target)  # geophoto's own reader
            assert not tag.error
            assert abs(tag.latitude - lat) <= 1e-7 and abs(tag.longitude - lon) <= 1e-7
            assert tag.gps_time_utc == when
            # the image data are the original's: pixels and, byte for byte, the scan
            assert pixels(target) == before[path][1]
            assert jpeg_scan(target) == before[path][2]
            assert os.stat(target).st_mtime_ns == before[path][3]  # mtime kept
        if mode == "inplace":
            backup = path + "_original"
            assert sha(backup) == before[path][0]
            assert os.stat(backup).st_mtime_ns == before[path][3]
        else:
            assert sha(path) == before[path][0]  # the original untouched
    leftovers = [f for d in (tmp_path / "photos", out_dir) if os.path.isdir(d)
                 for f in os.listdir(d) if f.startswith(".geophoto-")]
    assert leftovers == []


def test_sidecars_are_xmp_that_other_tools_read(tmp_path):
    from lxml import etree
    table, paths, fixes = placed_table(tmp_path, n=2)
    for style, name in (("photo.jpg.xmp", lambda p: p + ".xmp"),
                        ("photo.xmp", lambda p: os.path.splitext(p)[0] + ".xmp")):
        out, _ = write_geotags_table(table, WriteOptions(sidecar_style=style))
        assert list(out.get_column(TARGET_COLUMN)) == [name(p) for p in paths]
        for path, (_, lat, lon) in zip(paths, fixes):
            root = etree.parse(name(path)).getroot()
            assert root.tag == "{adobe:ns:meta/}xmpmeta"
            rdf = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
            description = root.find(f"{rdf}RDF/{rdf}Description")
            exif_ns = "{http://ns.adobe.com/exif/1.0/}"
            assert description.get(f"{exif_ns}GPSLatitude").endswith("N")
            assert description.get(f"{exif_ns}GPSLongitude").endswith("E")
            record, = exiftool(name(path), tags=("FileType", "GPSLatitude", "GPSLongitude"))
            assert record["FileType"] == "XMP"
            assert abs(record["GPSLatitude"] - lat) <= 1e-7
            assert abs(record["GPSLongitude"] - lon) <= 1e-7


def test_existing_sidecar_keeps_what_it_had(tmp_path):
    """A darktable/digiKam sidecar with edits and ratings gets the position added, its
    other properties kept."""
    table, paths, _ = placed_table(tmp_path, n=1)
    sidecar = paths[0] + ".xmp"
    if EXIFTOOL is None:
        pytest.skip("exiftool is not installed")
    subprocess.run([EXIFTOOL, "-q", "-o", sidecar, "-XMP-xmp:Rating=4",
                    "-XMP-dc:Subject=Rialto"], check=True)
    out, _ = write_geotags_table(table, WriteOptions())
    assert statuses(out) == [WRITTEN]
    record, = exiftool(sidecar, tags=("Rating", "Subject", "GPSLatitude"))
    assert record["Rating"] == 4 and record["Subject"] == "Rialto"
    assert math.isfinite(record["GPSLatitude"])
    again, _ = write_geotags_table(table, WriteOptions())
    assert statuses(again) == [TAGGED]  # the sidecar now has a position


def test_a_file_in_the_sidecars_place_that_is_not_xmp_is_left_alone(tmp_path):
    table, paths, _ = placed_table(tmp_path, n=1)
    with open(paths[0] + ".xmp", "w", encoding="utf-8") as f:
        f.write("my notes about this photo")
    out, _ = write_geotags_table(table, WriteOptions(overwrite=True))
    assert statuses(out) == [FAILED]
    assert out.get_column(REASON_COLUMN)[0] == f"{os.path.basename(paths[0])}.xmp is there " \
                                               "and is not XMP"
    with open(paths[0] + ".xmp", encoding="utf-8") as f:
        assert f.read() == "my notes about this photo"


def formats_folder(tmp_path):
    """One Venice photo as PNG, WebP, TIFF, HEIC, GIF and BMP."""
    from PIL import Image
    from orangecontrib.geophoto.images import register_heif
    register_heif()
    folder = tmp_path / "formats"
    folder.mkdir()
    with Image.open(os.path.join(VENICE, "images", venice_labels(1)[0][0])) as im:
        im.load()
        for ext in ("png", "webp", "tif", "heic", "gif", "bmp"):
            im.save(folder / f"photo.{ext}")
    return folder


def rows_for(paths, lat=45.4371, lon=12.3326, **kw):
    return [GeotagRow(str(p), lat, lon, source="track", **kw) for p in paths]


def test_formats_written_or_refused_untouched(tmp_path):
    folder = formats_folder(tmp_path)
    paths = [folder / f"photo.{e}" for e in ("png", "webp", "tif", "heic", "gif", "bmp")]
    before = {p: sha(p) for p in paths}
    pixels_before = {p: pixels(p) for p in paths}
    when = T0
    for mode in ("copy", "inplace"):
        rows = rows_for(paths, altitude=-2.5, time_utc=when)
        results = write_geotags(rows, WriteOptions(mode=mode, out_dir=str(tmp_path / "out"),
                                                   backup=False))
        assert [r.status for r in results] == [WRITTEN] * 3 + [UNSUPPORTED] * 3
        assert "HEIC" in results[3].reason and "GIF" in results[4].reason
        for path, result in zip(paths, results):
            if result.status == UNSUPPORTED:
                assert sha(path) == before[path] and result.target == ""
                continue
            tag = read_geotag(result.target)
            assert (tag.latitude, tag.longitude, tag.altitude, tag.gps_time_utc) == \
                (pytest.approx(45.4371, abs=1e-7), pytest.approx(12.3326, abs=1e-7), -2.5, when)
            assert pixels(result.target) == pixels_before[path]
            record, = exiftool(result.target)
            assert abs(record["GPSLatitude"] - 45.4371) <= 1e-7
    assert sorted(os.listdir(tmp_path / "out")) == ["photo.png", "photo.tif", "photo.webp"]
    # a sidecar needs no write support in the photo: HEIC, GIF and BMP get one too
    results = write_geotags(rows_for(paths[3:]), WriteOptions())
    assert [r.status for r in results] == [WRITTEN] * 3
    assert all(sha(p) == before[p] for p in paths[3:])


def test_not_an_image_and_missing_files_keep_their_rows(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    rows = rows_for([text, tmp_path / "gone.jpg"]) + [GeotagRow(str(text))]
    for mode in ("sidecar", "copy", "inplace"):
        results = write_geotags(rows, WriteOptions(mode=mode, out_dir=str(tmp_path / "o")))
        assert [r.status for r in results] == [UNSUPPORTED, FAILED, UNLOCATED]
        assert results[1].reason == "file not found"
    assert text.read_text() == "not a photo"
    assert sorted(os.listdir(tmp_path)) == ["notes.jpg", "o"]
    assert os.listdir(tmp_path / "o") == []


# --- safety rules -------------------------------------------------------------------------

def test_existing_gps_kept_unless_overwrite(tmp_path):
    image, lat, lon = venice_labels(1)[0]
    path = copy_venice(tmp_path, image)
    write_exif(path, gps={**gps_ifd(lat, lon, altitude=3.0),
                          piexif.GPSIFD.GPSSpeed: (12, 1)})
    original = sha(path)
    row = GeotagRow(path, 45.0, 12.0, source="track")
    for mode in ("sidecar", "copy", "inplace"):
        result, = write_geotags([row], WriteOptions(mode=mode, out_dir=str(tmp_path / "c")))
        assert result.status == TAGGED and "GPS position" in result.reason
    assert sha(path) == original and sorted(os.listdir(tmp_path)) == [image, "c"]
    # EXIF Geotag's own positions are not written back at all
    result, = write_geotags([GeotagRow(path, lat, lon, source="exif")], WriteOptions())
    assert result.status == TAGGED

    result, = write_geotags([row], WriteOptions(mode="inplace", overwrite=True))
    assert result.status == WRITTEN
    tag = read_geotag(path)
    assert (tag.latitude, tag.longitude) == (pytest.approx(45.0), pytest.approx(12.0))
    assert math.isnan(tag.altitude)  # the old position's altitude went with it
    record, = exiftool(path, tags=("GPSSpeed",))
    assert "GPSSpeed" not in record
    assert sha(path + "_original") == original


def test_gps_without_a_fix_is_replaced(tmp_path):
    """GPS 0/0, written by cameras without a fix, is no position (EXIF Geotag ignores it):
    the track's position replaces it without --overwrite."""
    table, paths, fixes = placed_table(tmp_path, n=1)
    write_exif(paths[0], gps={**gps_ifd(0.0, 0.0), piexif.GPSIFD.GPSSpeed: (0, 1)})
    out, _ = write_geotags_table(table, WriteOptions(mode="inplace"))
    assert statuses(out) == [WRITTEN]
    tag = read_geotag(paths[0])
    assert abs(tag.latitude - fixes[0][1]) <= 1e-7 and not tag.warning
    assert "GPSSpeed" not in exiftool(paths[0], tags=("GPSSpeed",))[0]


def predicted_table(paths, radii):
    """Geo Classifier's output columns (names from geolocate.predict_table)."""
    from orangecontrib.geophoto.geolocate import LAT_PRED, LON_PRED, UNCERTAINTY
    table = table_from_paths(paths)
    domain = Domain([ContinuousVariable(LAT_PRED), ContinuousVariable(LON_PRED),
                     ContinuousVariable(UNCERTAINTY)], metas=table.domain.metas)
    labels = venice_labels(len(paths))
    X = np.array([[lat, lon, r] for (_, lat, lon), r in zip(labels, radii)])
    return Table.from_numpy(domain, X, metas=table.metas), labels


def test_predicted_positions_only_within_the_radius_and_marked(tmp_path):
    paths = [copy_venice(tmp_path, name) for name, _, _ in venice_labels(3)]
    table, labels = predicted_table(paths, [150.0, 2500.0, np.nan])
    out, summary = write_geotags_table(table, WriteOptions())  # no radius: none written
    assert statuses(out) == [UNCERTAIN] * 3
    assert "maximum radius" in out.get_column(REASON_COLUMN)[0]
    out, summary = write_geotags_table(
        table, WriteOptions(mode="copy", out_dir=str(tmp_path / "c"), max_radius_m=1000,
                            model="Geo Classifier (knn)"))
    assert statuses(out) == [WRITTEN, UNCERTAIN, UNCERTAIN]
    assert list(out.get_column(REASON_COLUMN))[1:] == ["uncertainty 2500 m > 1000 m",
                                                      "uncertainty unknown"]
    assert summary.counts_text() == "1 written, 2 too uncertain"
    record, = exiftool(out.get_column(TARGET_COLUMN)[0])
    assert abs(record["GPSLatitude"] - labels[0][1]) <= 1e-7
    assert record["GPSHPositioningError"] == 150
    assert record["GPSProcessingMethod"] == "geophoto: predicted by Geo Classifier (knn)"
    assert record["PositionSource"] == "predicted"
    assert record["UncertaintyRadius"] == 150


def test_dry_run_writes_nothing(tmp_path):
    table, paths, _ = placed_table(tmp_path)
    before = folder_state(tmp_path)
    for mode in ("sidecar", "copy", "inplace"):
        out, summary = write_geotags_table(
            table, WriteOptions(mode=mode, out_dir=str(tmp_path / "copies"), dry_run=True))
        assert statuses(out) == [DRY_RUN] * len(paths)
        assert summary.counts_text() == f"{len(paths)} would be written"
    assert folder_state(tmp_path) == before


def test_touch_gives_the_current_time(tmp_path):
    table, paths, _ = placed_table(tmp_path, n=1)
    old = time.time() - 86400
    os.utime(paths[0], (old, old))
    write_geotags_table(table, WriteOptions(mode="inplace", keep_mtime=False))
    assert os.stat(paths[0]).st_mtime > old + 3600
    assert os.stat(paths[0] + "_original").st_mtime == pytest.approx(old)


def test_copy_never_replaces_a_file_in_the_output_folder(tmp_path):
    table, paths, _ = placed_table(tmp_path, n=2)
    out_dir = tmp_path / "copies"
    out_dir.mkdir()
    (out_dir / os.path.basename(paths[0])).write_text("someone's file")
    out, _ = write_geotags_table(table, WriteOptions(mode="copy", out_dir=str(out_dir)))
    assert statuses(out) == [FAILED, WRITTEN]
    assert "already exists" in out.get_column(REASON_COLUMN)[0]
    assert (out_dir / os.path.basename(paths[0])).read_text() == "someone's file"
    # the photos' own folder as the output folder: nothing is replaced either
    out, _ = write_geotags_table(table, WriteOptions(mode="copy",
                                                     out_dir=os.path.dirname(paths[0])))
    assert statuses(out) == [FAILED, FAILED]


def test_inplace_keeps_an_older_backup(tmp_path):
    table, paths, _ = placed_table(tmp_path, n=1)
    first = sha(paths[0])
    write_geotags_table(table, WriteOptions(mode="inplace"))
    write_geotags_table(table, WriteOptions(mode="inplace", overwrite=True))
    assert sha(paths[0] + "_original") == first  # the true original, as exiftool keeps it
    no_backup = tmp_path / "nb"
    table, paths, _ = placed_table(no_backup, n=1)
    write_geotags_table(table, WriteOptions(mode="inplace", backup=False))
    assert os.listdir(no_backup / "photos") == [os.path.basename(paths[0])]


# --- faults -----------------------------------------------------------------------------

FULL_DISK_SCRIPT = r"""
import hashlib, json, os, shutil, sys
from orangecontrib.geophoto.writeback import GeotagRow, WriteOptions, write_geotags
disk, photos = sys.argv[1], sys.argv[2:]
def sha(p):
    return hashlib.sha256(open(p, 'rb').read()).hexdigest()
report = {}
room = {"inplace": 40, "copy": 40, "sidecar": 6}  # kB left: one file fits, not two
for mode in ("inplace", "copy", "sidecar"):
    work = os.path.join(disk, mode)
    os.makedirs(work)
    paths = []
    for p in photos:
        paths.append(os.path.join(work, os.path.basename(p)))
        shutil.copyfile(p, paths[-1])
    before = [sha(p) for p in paths]
    with open(os.path.join(disk, "filler"), "wb") as f:  # fill the disk but a little
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        f.write(b"\0" * max(free - room[mode] * 1024, 0))
    results = write_geotags([GeotagRow(p, 45.43, 12.33, source="track") for p in paths],
                            WriteOptions(mode=mode, out_dir=os.path.join(work, "copies")))
    os.remove(os.path.join(disk, "filler"))
    copies = os.path.join(work, "copies")
    report[mode] = dict(status=[r.status for r in results], reason=[r.reason for r in results],
                        target=[r.target for r in results], files=sorted(os.listdir(work)),
                        copies=sorted(os.listdir(copies)) if os.path.isdir(copies) else [],
                        same=[sha(p) == b for p, b in zip(paths, before)],
                        backups_same=[sha(p + "_original") == b if os.path.exists(
                            p + "_original") else None for p, b in zip(paths, before)])
    shutil.rmtree(work)
print(json.dumps(report))
"""


def _can_mount_tmpfs(where):
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            f"mount -t tmpfs -o size=64k tmpfs '{where}'"],
                           capture_output=True, text=True)
    return probe.returncode == 0


def test_full_disk_leaves_originals_and_no_partial_files(tmp_path):
    """A 300 kB tmpfs (its own mount namespace) filled to its last ~40 kB."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("unshare") is None or not _can_mount_tmpfs(disk):
        pytest.skip("needs root and unshare to mount a small tmpfs")
    photos = [os.path.join(VENICE, "images", name) for name, _, _ in venice_labels(4)]
    command = f"mount -t tmpfs -o size=300k tmpfs '{disk}' && exec \"$0\" -c \"$@\""
    done = subprocess.run(["unshare", "-m", "sh", "-c", command, sys.executable,
                           FULL_DISK_SCRIPT, str(disk), *photos],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT},
                          timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for mode, got in report.items():
        assert FAILED in got["status"], (mode, got)
        assert "disk full" in got["reason"], (mode, got)
        assert all(s in (WRITTEN, FAILED) for s in got["status"])
        assert not [f for f in got["files"] + got["copies"] if f.startswith(".")], (mode, got)
        if mode == "inplace":
            # a photo not written is untouched and has no backup; a written one's backup
            # is the original
            for status, same, backup in zip(got["status"], got["same"], got["backups_same"]):
                assert (same, backup) == ((True, None) if status == FAILED else (False, True))
        else:
            assert all(got["same"])
            written = sum(s == WRITTEN for s in got["status"])
            made = [f for f in got["files"] if f.endswith(".xmp")] if mode == "sidecar" \
                else got["copies"]
            assert len(made) == written, (mode, got)


READ_ONLY_SCRIPT = r"""
import json, sys
from orangecontrib.geophoto.writeback import GeotagRow, WriteOptions, write_geotags
ro_file, ro_folder_photo, out = sys.argv[1:]
row = lambda p: GeotagRow(p, 45.43, 12.33, source="track")
report = [write_geotags([row(ro_file)], WriteOptions(mode="inplace"))[0].__dict__,
          write_geotags([row(ro_folder_photo)], WriteOptions())[0].__dict__,
          write_geotags([row(ro_folder_photo)], WriteOptions(mode="copy", out_dir=out))[0]
          .__dict__]
print(json.dumps(report))
"""


def test_read_only_files_and_folders(tmp_path):
    """Run as nobody (root ignores file modes): a read-only photo is not rewritten even
    in a writable folder; a read-only folder gets no sidecar and no temporary file."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as nobody")
    base = tempfile.mkdtemp(prefix="geophoto-ro-")  # pytest's tmp_path is root's only
    try:
        os.chmod(base, 0o755)
        writable, ro_folder, out = (os.path.join(base, d) for d in ("w", "ro", "out"))
        for d, mode in ((writable, 0o777), (ro_folder, 0o555), (out, 0o555)):
            os.mkdir(d)
        name = venice_labels(1)[0][0]
        ro_file = copy_venice(writable, name)
        ro_folder_photo = copy_venice(ro_folder, name)
        for d, mode in ((writable, 0o777), (ro_folder, 0o555), (out, 0o555)):
            os.chmod(d, mode)
        os.chmod(ro_file, 0o444)
        before = folder_state(base)
        done = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             sys.executable, "-c", READ_ONLY_SCRIPT, ro_file, ro_folder_photo, out],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": ROOT, "HOME": base})
        assert done.returncode == 0, done.stderr
        inplace, sidecar, copy = json.loads(done.stdout)
        assert (inplace["status"], inplace["reason"]) == (FAILED, "read-only file")
        assert (sidecar["status"], sidecar["reason"]) == (FAILED, "permission denied")
        assert (copy["status"], copy["reason"]) == (FAILED, "permission denied")
        assert folder_state(base) == before  # nothing changed, nothing added
    finally:
        shutil.rmtree(base)


def _many_photos_table(tmp_path, n):
    """``n`` photos (copies of the Venice set) with true positions in a table, as .pkl."""
    folder = tmp_path / "photos"
    folder.mkdir()
    labels = venice_labels()
    paths = []
    for k in range(n):
        image, _, _ = labels[k % len(labels)]
        paths.append(copy_venice(folder, image, f"p{k:04d}.jpg"))
    table = table_from_paths(paths)
    domain = Domain([ContinuousVariable("latitude"), ContinuousVariable("longitude")],
                    metas=table.domain.metas)
    X = np.array([labels[k % len(labels)][1:] for k in range(n)])
    table = Table.from_numpy(domain, X, metas=table.metas)
    write_table(table, str(tmp_path / "positions.pkl"))
    return str(tmp_path / "positions.pkl"), paths


@pytest.mark.parametrize("mode", ["inplace", "sidecar", "copy"])
def test_sigterm_mid_batch_leaves_no_half_written_file(tmp_path, mode):
    table, paths = _many_photos_table(tmp_path, 300)
    originals = {p: sha(p) for p in paths}
    out_dir = tmp_path / "copies"
    command = subprocess.Popen(
        [sys.executable, "-m", "orangecontrib.geophoto.cli", "-q", "write", table,
         "--mode", mode, "--out", str(out_dir)],
        env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        marker = {"inplace": "_original", "sidecar": ".xmp", "copy": ".jpg"}[mode]
        watched = out_dir if mode == "copy" else tmp_path / "photos"
        deadline = time.monotonic() + 300
        while command.poll() is None and time.monotonic() < deadline:
            if os.path.isdir(watched) and sum(f.endswith(marker) and not f.startswith(".")
                                              for f in os.listdir(watched)) >= 5:
                break
            time.sleep(0.01)
        assert command.poll() is None, "the batch ended before it could be interrupted"
        command.send_signal(signal.SIGTERM)
        _, err = command.communicate(timeout=120)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 128 + signal.SIGTERM
    assert err.strip().splitlines() == ["geophoto: terminated"]
    folders = [tmp_path / "photos"] + ([out_dir] if mode == "copy" else [])
    files = [f for d in folders for f in os.listdir(d)]
    assert not [f for f in files if f.startswith(".geophoto-")]  # no temporary junk
    written = 0
    for path in paths:
        target = {"inplace": path, "sidecar": path + ".xmp",
                  "copy": os.path.join(out_dir, os.path.basename(path))}[mode]
        changed = (sha(path) != originals[path]) if mode == "inplace" \
            else os.path.exists(target)
        if mode != "inplace":
            assert sha(path) == originals[path]
        if mode == "inplace":  # a backup exactly when the photo was rewritten
            assert os.path.exists(path + "_original") == changed
        if changed:  # every file there is whole
            written += 1
            record_ok = read_geotag(target).has_position if mode != "sidecar" else \
                _xmp_has_position(target)
            assert record_ok, target
            if mode == "inplace":
                assert sha(path + "_original") == originals[path]
    assert 5 <= written < len(paths)


def _xmp_has_position(path):
    from lxml import etree
    root = etree.parse(path).getroot()
    return "GPSLatitude" in etree.tostring(root).decode()


# --- command line -----------------------------------------------------------------------

def test_cli_write_modes_and_summary(tmp_path, capsys):
    table, paths, fixes = placed_table(tmp_path, n=3)
    pkl = str(tmp_path / "placed.pkl")
    write_table(table, pkl)
    assert main(["write", pkl, "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"would write {p}.xmp" for p in paths]
    assert captured.err.strip() == "geotags: 3 would be written (XMP sidecars)"
    assert not any(f.endswith(".xmp") for f in os.listdir(tmp_path / "photos"))

    result = str(tmp_path / "written.csv")
    assert main(["write", pkl, "--mode", "copy", "--out", str(tmp_path / "c"),
                 "-o", result]) == 0
    assert capsys.readouterr().err.strip() == \
        f"geotags: 3 written (copies in {tmp_path / 'c'})"
    written = read_table(result)
    assert [written.domain[STATUS_COLUMN].str_val(v)
            for v in written.get_column(STATUS_COLUMN)] == [WRITTEN] * 3
    assert main(["write", pkl, "--mode", "copy", "--out", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("geotags: 0 written, 3 failed (copies in")
    assert err.endswith(f"first failure: {os.path.basename(paths[0])}: "
                        f"{os.path.basename(paths[0])} already exists in the output folder")

    assert main(["write", pkl, "--mode", "inplace", "--no-backup", "--touch"]) == 0
    assert capsys.readouterr().err.strip() == "geotags: 3 written (in place, no backup)"
    assert not any(f.endswith("_original") for f in os.listdir(tmp_path / "photos"))


@pytest.mark.parametrize("argv, message", [
    (["--mode", "copy"], "mode copy needs an output folder: --out DIR"),
    (["--max-radius", "-5"], "the maximum radius must be a number of metres >= 0"),
])
def test_cli_write_errors_are_one_line(tmp_path, capsys, argv, message):
    table, _, _ = placed_table(tmp_path, n=1)
    pkl = str(tmp_path / "placed.pkl")
    write_table(table, pkl)
    assert main(["write", pkl, *argv]) == 1
    assert capsys.readouterr().err == f"geophoto write: error: {message}\n"
    assert main(["write", str(tmp_path / "missing.csv")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_write_a_table_without_positions_is_an_error(tmp_path, capsys):
    pkl = str(tmp_path / "paths.pkl")
    write_table(table_from_paths([copy_venice(tmp_path, venice_labels(1)[0][0])]), pkl)
    assert main(["write", pkl]) == 1
    assert capsys.readouterr().err == ("geophoto write: error: the data has neither "
                                       "latitude/longitude nor predicted positions\n")


def test_exif_with_gpx_writes_in_the_same_run(tmp_path, capsys):
    labels = venice_labels(3)
    paths, fixes = timed_copies(tmp_path / "photos", labels)
    gpx = write_gpx(tmp_path / "walk.gpx", fixes)
    image, lat, lon = venice_labels(4)[3]
    tagged = copy_venice(tmp_path / "photos", image)  # a photo with its own GPS
    write_exif(tagged, gps=gps_ifd(lat, lon))
    out = str(tmp_path / "geotags.csv")
    assert main(["exif", str(tmp_path / "photos"), "--gpx", gpx, "-o", out,
                 "--write-geotags", "sidecar"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "geotags: 3 written, 1 already tagged (XMP sidecars)"
    table = read_table(out)
    assert sorted(table.domain[STATUS_COLUMN].str_val(v)
                  for v in table.get_column(STATUS_COLUMN)) == [TAGGED] + [WRITTEN] * 3
    for record, (when, lat, lon) in zip(exiftool(*(p + ".xmp" for p in paths)), fixes):
        assert abs(record["GPSLatitude"] - lat) <= 1e-7
    assert not os.path.exists(tagged + ".xmp")
    # a dry run's list goes to stderr: stdout carries the table
    assert main(["exif", str(tmp_path / "photos"), "--gpx", gpx, "--write-geotags", "copy",
                 "--write-to", str(tmp_path / "c"), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("image,")
    assert not [line for line in captured.out.splitlines() if line.startswith("would")]
    assert captured.err.count("would write") == 3
    assert not os.path.exists(tmp_path / "c")
    assert main(["exif", str(tmp_path / "photos"), "--write-geotags", "copy"]) == 1
    assert capsys.readouterr().err == ("geophoto exif: error: mode copy needs an output "
                                       "folder: --write-to DIR\n")


def test_photos2kml_places_and_writes_in_the_same_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(tmp_path / "cache"))
    paths, fixes = timed_copies(tmp_path / "photos", venice_labels(3))
    gpx = write_gpx(tmp_path / "walk.gpx", fixes)
    kmz = str(tmp_path / "walk.kmz")
    assert main(["photos2kml", str(tmp_path / "photos"), "-o", kmz, "--gpx", gpx,
                 "--write-geotags", "inplace", "--thumbnail", "0"]) == 0
    err = capsys.readouterr().err
    assert "geotags: 3 written (in place)" in err and "3 placemarks written" in err
    for path, (_, lat, lon) in zip(paths, fixes):
        tag = read_geotag(path)
        assert abs(tag.latitude - lat) <= 1e-7 and abs(tag.longitude - lon) <= 1e-7
        assert os.path.exists(path + "_original")
