"""EXIF Geotag core on real photos with metadata written into copies."""
import csv
import io
import math
import os
import shutil
import subprocess
import struct
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import numpy as np
import piexif
import pytest
from hypothesis import assume, given, settings, strategies as st
from PIL import Image

from orangecontrib.geophoto import exif
from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.exif import (
    dms_to_degrees, geotag_table, parse_exif_datetime, rational_to_float, read_geotag,
    read_geotags,
)
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import find_lat_lon, table_from_paths
from tests.exif_fixtures import (
    copy_venice, exif_bytes, gps_ifd, rational, venice_labels, write_exif,
)

ENCODINGS = [("dms", "upper"), ("dms", "lower"), ("decimal", "upper"),
             ("decimal-minutes", "upper"), ("dms", "missing")]


@pytest.mark.parametrize("encoding,refs", ENCODINGS)
def test_positions_written_in_camera_encodings_read_back_exactly(tmp_path, encoding, refs):
    rows = venice_labels(n=12)
    for i, (name, lat, lon) in enumerate(rows):
        # alternate hemispheres so signs are exercised (missing refs cannot carry a sign)
        if refs != "missing" and i % 2:
            lat, lon = -lat, -lon
        path = copy_venice(tmp_path, name)
        write_exif(path, gps=gps_ifd(lat, lon, encoding=encoding, refs=refs))
        tag = read_geotag(path)
        assert tag.error == ""
        expected_lat, expected_lon = (abs(lat), abs(lon)) if refs == "missing" else (lat, lon)
        assert tag.latitude == pytest.approx(expected_lat, abs=1e-6)
        assert tag.longitude == pytest.approx(expected_lon, abs=1e-6)
        assert tag.position_source == "exif"
        with Image.open(path) as im:
            assert (tag.width, tag.height) == im.size


def test_zero_denominators_never_invent_a_position(tmp_path):
    name, lat, lon = venice_labels(n=1)[0]
    for component in range(3):
        path = copy_venice(tmp_path, name, f"zero{component}.jpg")
        gps = gps_ifd(lat, lon)
        value = list(gps[piexif.GPSIFD.GPSLatitude])
        value[component] = (0, 0) if component else (45, 0)
        gps[piexif.GPSIFD.GPSLatitude] = tuple(value)
        write_exif(path, gps=gps)
        tag = read_geotag(path)
        assert math.isnan(tag.latitude) and math.isnan(tag.longitude)
        assert tag.position_source == "" and tag.error == ""


def test_altitude_direction_error_gps_time_camera_and_lens(tmp_path):
    name, lat, lon = venice_labels(n=1)[0]
    path = copy_venice(tmp_path, name)
    gps = gps_ifd(lat, lon, altitude=-3.25)
    gps.update({piexif.GPSIFD.GPSImgDirection: (2715, 10),
                piexif.GPSIFD.GPSImgDirectionRef: b"T",
                piexif.GPSIFD.GPSHPositioningError: (47, 10),
                piexif.GPSIFD.GPSDateStamp: b"2019:05:18",
                piexif.GPSIFD.GPSTimeStamp: ((7, 1), (29, 1), (5925, 100))})
    write_exif(path, gps=gps,
               zeroth={piexif.ImageIFD.Make: b"Apple", piexif.ImageIFD.Model: b"iPhone 12",
                       piexif.ImageIFD.Orientation: 6},
               exif={piexif.ExifIFD.LensModel: "iPhone 12 back camera 4.2mm f/1.6".encode()})
    tag = read_geotag(path)
    assert tag.altitude == pytest.approx(-3.25)
    assert tag.direction == pytest.approx(271.5)
    assert tag.gps_error == pytest.approx(4.7)
    assert tag.gps_time_utc == datetime(2019, 5, 18, 7, 29, 59, 250000, tzinfo=timezone.utc)
    assert (tag.make, tag.model, tag.orientation) == ("Apple", "iPhone 12", 6)
    assert tag.lens == "iPhone 12 back camera 4.2mm f/1.6"


def test_time_taken_with_offset_and_subseconds(tmp_path):
    name, lat, lon = venice_labels(n=1)[0]
    path = copy_venice(tmp_path, name)
    write_exif(path, gps=gps_ifd(lat, lon),
               exif={piexif.ExifIFD.DateTimeOriginal: b"2021:08:01 18:05:07",
                     piexif.ExifIFD.SubSecTimeOriginal: b"042",
                     piexif.ExifIFD.OffsetTimeOriginal: b"-04:00"})
    tag = read_geotag(path)
    assert tag.time_taken == datetime(2021, 8, 1, 18, 5, 7, 42000,
                                      tzinfo=timezone(timedelta(hours=-4)))
    assert tag.time_utc == datetime(2021, 8, 1, 22, 5, 7, 42000, tzinfo=timezone.utc)


def test_utc_from_coordinates_time_zone_when_no_offset(tmp_path):
    name, lat, lon = venice_labels(n=1)[0]  # Venice: Europe/Rome
    summer, winter = (copy_venice(tmp_path, name, n) for n in ("summer.jpg", "winter.jpg"))
    write_exif(summer, gps=gps_ifd(lat, lon),
               exif={piexif.ExifIFD.DateTimeOriginal: b"2019:07:01 12:00:00"})
    write_exif(winter, gps=gps_ifd(lat, lon),
               exif={piexif.ExifIFD.DateTimeOriginal: b"2019:01:01 12:00:00"})
    assert read_geotag(summer).time_utc == datetime(2019, 7, 1, 10, tzinfo=timezone.utc)
    assert read_geotag(winter).time_utc == datetime(2019, 1, 1, 11, tzinfo=timezone.utc)
    no_gps = copy_venice(tmp_path, name, "nogps.jpg")
    write_exif(no_gps, exif={piexif.ExifIFD.DateTimeOriginal: b"2019:07:01 12:00:00"})
    tag = read_geotag(no_gps)
    assert tag.time_taken == datetime(2019, 7, 1, 12) and tag.time_utc is None


def test_formats_tiff_png_webp_heic(tmp_path):
    import pillow_heif
    pillow_heif.register_heif_opener()
    name, lat, lon = venice_labels(n=1)[0]
    src = copy_venice(tmp_path, name)
    raw = exif_bytes(gps=gps_ifd(lat, lon), zeroth={piexif.ImageIFD.Make: b"Nokia"})
    with Image.open(src) as im:
        im.load()
        for ext, kwargs in ((".tif", {}), (".png", {}), (".webp", {}), (".heic", {})):
            path = str(tmp_path / f"photo{ext}")
            im.save(path, exif=raw, **kwargs)
            tag = read_geotag(path)
            assert tag.error == "", ext
            assert tag.latitude == pytest.approx(lat, abs=1e-6), ext
            assert tag.longitude == pytest.approx(lon, abs=1e-6), ext
            assert tag.make == "Nokia", ext
            assert (tag.width, tag.height) == im.size, ext


def test_metadata_only_never_decodes_pixels(tmp_path, monkeypatch):
    from PIL import ImageFile
    path = copy_venice(tmp_path, venice_labels(n=1)[0][0])
    calls = []
    monkeypatch.setattr(ImageFile.ImageFile, "load",
                        lambda self: calls.append(self) or None)
    assert read_geotag(path).error == ""
    assert calls == []


def test_bad_files_keep_their_rows_with_a_reason(tmp_path):
    name = venice_labels(n=1)[0][0]
    good = copy_venice(tmp_path, name)
    with open(good, "rb") as f:
        content = f.read()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(content[:300])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(os.urandom(5000))
    text = tmp_path / "notes.jpg"
    text.write_text("these are my holiday notes, not a photo")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(100_000, 100_000))
    unicode_name = shutil.copy(good, tmp_path / "Benátky ščž 東京.jpg")
    non_utf8 = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9.jpg")
    shutil.copy(good, non_utf8)
    paths = [str(truncated), str(garbage), str(text), str(empty), str(bomb),
             str(tmp_path / "missing.jpg"), "https://example.org/photo.jpg", None,
             str(unicode_name), os.fsdecode(non_utf8), str(tmp_path)]
    tags = read_geotags(paths)
    assert len(tags) == len(paths)
    reasons = [t.error for t in tags]
    assert "not an image" in reasons[1] and "not an image" in reasons[2]
    assert reasons[3] == "empty file"
    assert "decompression bomb" in reasons[4]
    assert reasons[5] == "file not found"
    assert "URLs are not read" in reasons[6]
    assert reasons[7] == "no file name"
    assert reasons[8] == reasons[9] == ""
    assert "folder" in reasons[10]
    assert all(not t.has_position for t in tags)


def _png_header(width, height):
    import zlib

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_looping_and_huge_exif_structures_do_not_hang_or_crash(tmp_path):
    """IFD0 whose Exif-IFD pointer points back at IFD0, and an IFD claiming 65535 entries."""
    name = venice_labels(n=1)[0][0]
    src = copy_venice(tmp_path, name)
    with Image.open(src) as im:
        im.load()
        for label, tiff in (("loop", _tiff_ifd_loop()), ("huge", _tiff_huge_ifd())):
            path = str(tmp_path / f"{label}.jpg")
            im.save(path, exif=b"Exif\x00\x00" + tiff)
            tag = read_geotag(path)
            assert not tag.has_position
            assert tag.width == im.size[0] or tag.error


def _tiff_ifd_loop():
    header = b"II*\x00" + struct.pack("<I", 8)
    entries = [(0x8769, 4, 1, 8), (0x8825, 4, 1, 8)]  # Exif and GPS IFDs -> IFD0 itself
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(struct.pack("<HHII", *e) for e in entries)
    return header + ifd + struct.pack("<I", 8)  # next IFD -> IFD0 again


def _tiff_huge_ifd():
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 65535) + b"\x00" * 64


def test_geotag_table_keeps_rows_and_marks_coordinates_for_geo_map():
    paths = sample_photo_paths()
    data = table_from_paths(paths + ["/no/such/photo.jpg"])
    out = geotag_table(data)
    assert len(out) == len(data)
    lat, lon = find_lat_lon(out)
    assert (lat.name, lon.name) == ("latitude", "longitude")
    assert lat in out.domain.attributes and lon in out.domain.attributes
    assert not lat.attributes.get("hidden")
    located = np.isfinite(out.get_column(lat))
    assert located.sum() == 8  # one sample photo is shipped without GPS
    assert out.get_column(exif.ERROR)[-1] == "file not found"
    names = [v.name for v in (*out.domain.variables, *out.domain.metas)]
    assert [n for n in names if n.lower().startswith(("lat", "lon", "lng"))] == \
        ["latitude", "longitude"]
    utc = out.get_column(exif.TIME_UTC)
    assert np.isfinite(utc[:-1]).all()


def test_geotag_table_reports_progress_and_cancels():
    data = table_from_paths(sample_photo_paths())
    seen = []
    geotag_table(data, on_progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        geotag_table(data, should_stop=lambda: True)


def test_agrees_with_exiftool_on_real_photos(tmp_path):
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    rows = venice_labels(n=40)
    encodings = ["dms", "decimal", "decimal-minutes"]
    for i, (name, lat, lon) in enumerate(rows):
        sign = -1 if i % 3 == 1 else 1
        write_exif(copy_venice(tmp_path, name),
                   gps=gps_ifd(sign * lat, lon, encoding=encodings[i % 3],
                               refs="lower" if i % 4 == 0 else "upper",
                               altitude=(i - 20) * 1.5))
    out = subprocess.run([exiftool, "-n", "-csv", "-GPSLatitude", "-GPSLongitude",
                          "-GPSAltitude", str(tmp_path)], capture_output=True, text=True,
                         check=True).stdout
    reference = {os.path.basename(r["SourceFile"]): r for r in csv.DictReader(io.StringIO(out))}
    for tag in read_geotags([str(tmp_path / name) for name, _, _ in rows]):
        ref = reference[os.path.basename(tag.path)]
        assert tag.latitude == pytest.approx(float(ref["GPSLatitude"]), abs=1e-6)
        assert tag.longitude == pytest.approx(float(ref["GPSLongitude"]), abs=1e-6)
        assert tag.altitude == pytest.approx(float(ref["GPSAltitude"]), abs=1e-6)


# --- property-based: the decoding itself ---------------------------------------------

seconds = st.fractions(min_value=0, max_value=Fraction(59_999_999, 1_000_000),
                       max_denominator=10 ** 6)


@settings(max_examples=300, deadline=None)
@given(degrees=st.integers(0, 180), minutes=st.integers(0, 59), secs=seconds,
       ref=st.sampled_from(["N", "S", "E", "W", "n", "s", "e", "w", "", None, b"S", b"N\x00"]))
def test_dms_decoding_matches_definition(degrees, minutes, secs, ref):
    value = ((degrees, 1), (minutes, 1), (secs.numerator, secs.denominator))
    expected = degrees + minutes / 60 + float(secs) / 3600
    ref_text = ref.decode()[:1] if isinstance(ref, bytes) else (ref or "")
    if ref_text.upper() in ("S", "W"):
        expected = -expected
    assert dms_to_degrees(value, ref) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(num=st.integers(0, 2 ** 32 - 1), den=st.integers(0, 2 ** 32 - 1))
def test_rationals_never_raise_and_zero_denominator_is_undefined(num, den):
    value = rational_to_float((num, den))
    if den == 0:
        assert not math.isfinite(value)
        assert math.isnan(dms_to_degrees(((num, den), (0, 1), (0, 1)), "N"))
    else:
        assert value == pytest.approx(num / den)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40) | st.text(max_size=40))
def test_datetime_parser_is_total(text):
    result = parse_exif_datetime(text)
    assert result is None or isinstance(result, datetime)


@settings(max_examples=50, deadline=None)
@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180))
def test_written_positions_round_trip_through_a_real_file(tmp_path_factory, lat, lon):
    assume(abs(lat) + abs(lon) > 1e-6)  # 0/0 means "no fix": test_exif_messy.py
    folder = tmp_path_factory.mktemp("rt")
    path = copy_venice(folder, venice_labels(n=1)[0][0])
    write_exif(path, gps=gps_ifd(lat, lon))
    tag = read_geotag(path)
    assert tag.latitude == pytest.approx(lat, abs=1e-6)
    assert tag.longitude == pytest.approx(lon, abs=1e-6)


def test_rational_helper_accepts_pillow_rationals():
    from PIL.TiffImagePlugin import IFDRational
    assert rational_to_float(IFDRational(3, 4)) == 0.75
    assert math.isnan(rational_to_float(IFDRational(0, 0)))
    assert rational(0.5) == (1, 2)


def test_odd_maker_notes_do_not_disturb_the_position(tmp_path):
    name, lat, lon = venice_labels(n=1)[0]
    for i, note in enumerate((os.urandom(3000), b"Nikon\x00\x02\x10\x00\x00MM\x00*" + b"\xff" * 64,
                              b"")):
        path = copy_venice(tmp_path, name, f"note{i}.jpg")
        write_exif(path, gps=gps_ifd(lat, lon), exif={piexif.ExifIFD.MakerNote: note})
        tag = read_geotag(path)
        assert tag.error == ""
        assert (tag.latitude, tag.longitude) == (pytest.approx(lat, abs=1e-6),
                                                 pytest.approx(lon, abs=1e-6))
