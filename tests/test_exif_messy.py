"""EXIF Geotag and GPS tracks on messy real-world metadata (issue 10): out-of-range dates,
times only in XMP, UTF-8 text, GPS 0/0, Latin-1 GPX files and tracks with no usable point.

Every file is a real photo copy with metadata written in the test; exiftool is the reference
where it reads the same value."""
import csv
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import piexif
import pytest
from hypothesis import given, settings, strategies as st
from Orange.data import ContinuousVariable, Domain, Table, TimeVariable

from orangecontrib.geophoto import exif
from orangecontrib.geophoto.exif import geotag_table, read_geotag, read_geotags
from orangecontrib.geophoto.tables import table_from_paths
from orangecontrib.geophoto.track import (
    NoUsablePoints, Placement, Track, track_from_gpx, track_from_table,
)
from tests.conftest import ROOT
from tests.exif_fixtures import copy_venice, gps_ifd, venice_labels, write_exif

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")

XMP_NS = {"exif": "http://ns.adobe.com/exif/1.0/",
          "photoshop": "http://ns.adobe.com/photoshop/1.0/",
          "xmp": "http://ns.adobe.com/xap/1.0/"}


def insert_xmp(path, attributes=None, elements=None):
    """Put an XMP packet into a JPEG as cameras and Lightroom do: an APP1 segment named
    ``http://ns.adobe.com/xap/1.0/`` right after SOI; properties as rdf:Description
    attributes and as child elements (both forms occur)."""
    attributes, elements = attributes or {}, elements or {}
    ns = " ".join(f'xmlns:{p}="{u}"' for p, u in XMP_NS.items())
    attrs = " ".join(f'{k}="{v}"' for k, v in attributes.items())
    children = "".join(f"<{k}>{v}</{k}>" for k, v in elements.items())
    packet = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
              '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
              '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              f'<rdf:Description rdf:about="" {ns} {attrs}>{children}</rdf:Description>'
              '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode("utf-8")
    body = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:2] == b"\xff\xd8"
    with open(path, "wb") as f:
        f.write(raw[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + raw[2:])


def exiftool_json(path, *tags, charset=None):
    args = [EXIFTOOL, "-j", "-n"] + (["-charset", f"exif={charset}"] if charset else [])
    out = subprocess.run(args + [f"-{t}" for t in tags] + [str(path)], capture_output=True,
                         check=True).stdout
    return json.loads(out.decode("utf-8"))[0]


def parse_exiftool_time(text):
    """exiftool's ``YYYY:MM:DD HH:MM:SS[.ss][+HH:MM]`` as a datetime."""
    m = re.fullmatch(r"(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?([+-]\d\d:\d\d|Z)?",
                     text)
    assert m, text
    moment = datetime(*map(int, m.groups()[:6]))
    if m.group(7):
        moment += timedelta(seconds=float(m.group(7)))
    if m.group(8):
        if m.group(8) == "Z":
            return moment.replace(tzinfo=timezone.utc)
        sign = -1 if m.group(8)[0] == "-" else 1
        hours, minutes = map(int, m.group(8)[1:].split(":"))
        moment = moment.replace(tzinfo=timezone(sign * timedelta(hours=hours,
                                                                 minutes=minutes)))
    return moment


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "orangecontrib.geophoto.cli", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": ROOT})


# --- 1. out-of-range dates drop only the bad value ----------------------------------------

OUT_OF_RANGE = {
    "year 1 with offset": ({piexif.ExifIFD.DateTimeOriginal: b"0001:01:01 00:00:00",
                            piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"}, {}),
    "year 1 in Venice's zone": ({piexif.ExifIFD.DateTimeOriginal: b"0001:01:01 00:30:00"}, {}),
    "year 9999 with offset": ({piexif.ExifIFD.DateTimeOriginal: b"9999:12:31 23:59:59",
                               piexif.ExifIFD.OffsetTimeOriginal: b"-05:00"}, {}),
    "GPS date 9999 past midnight": ({}, {piexif.GPSIFD.GPSDateStamp: b"9999:12:31",
                                         piexif.GPSIFD.GPSTimeStamp: ((23, 1), (59, 1),
                                                                      (3600, 1))}),
    "GPS hours 2**32-1": ({}, {piexif.GPSIFD.GPSDateStamp: b"2019:05:18",
                               piexif.GPSIFD.GPSTimeStamp: ((2 ** 32 - 1, 1), (0, 1),
                                                            (0, 1))}),
    "5000 sub-second digits": ({piexif.ExifIFD.DateTimeOriginal: b"2019:05:18 09:29:59",
                                piexif.ExifIFD.SubSecTimeOriginal: b"9" * 5000}, {}),
}


@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
def test_an_out_of_range_date_drops_only_that_value(tmp_path, case):
    sub, gps_extra = OUT_OF_RANGE[case]
    name, lat, lon = venice_labels(n=1)[0]
    path = copy_venice(tmp_path, name)
    gps = gps_ifd(lat, lon)
    gps.update(gps_extra)
    write_exif(path, gps=gps, exif=sub, zeroth={piexif.ImageIFD.Make: b"Canon"})
    tag = read_geotag(path)
    assert tag.error == ""
    assert (tag.latitude, tag.longitude) == (pytest.approx(lat, abs=1e-6),
                                             pytest.approx(lon, abs=1e-6))
    assert tag.position_source == "exif" and tag.make == "Canon"
    # the table (every time column through _epoch) is built, the row keeps its position
    out = geotag_table(table_from_paths([path]))
    assert out.get_column(exif.LATITUDE)[0] == pytest.approx(lat, abs=1e-6)
    source = out.domain[exif.POSITION_SOURCE]
    assert source.str_val(out.get_column(source)[0]) == "exif"
    assert out.get_column(exif.ERROR)[0] == ""


def test_dropped_dates_are_named_in_the_warning_column(tmp_path):
    name, lat, lon = venice_labels(n=1)[0]
    path = copy_venice(tmp_path, name)
    gps = gps_ifd(lat, lon)
    gps.update(OUT_OF_RANGE["GPS date 9999 past midnight"][1])
    write_exif(path, gps=gps, exif=OUT_OF_RANGE["year 9999 with offset"][0])
    tag = read_geotag(path)
    # the camera's clock reading is kept as recorded; only what overflows is dropped
    assert tag.time_taken.replace(tzinfo=None) == datetime(9999, 12, 31, 23, 59, 59)
    assert tag.time_utc is None and tag.gps_time_utc is None
    assert "time (UTC)" in tag.warning and "GPS date/time" in tag.warning


def test_year_one_photo_without_gps_does_not_stop_placing_by_track(tmp_path):
    """The camera-clock path (clock minus offset) of Placement must not overflow either."""
    name = venice_labels(n=1)[0][0]
    bad, good = copy_venice(tmp_path, name, "bad.jpg"), copy_venice(tmp_path, name, "ok.jpg")
    write_exif(bad, exif={piexif.ExifIFD.DateTimeOriginal: b"0001:01:01 00:30:00"})
    write_exif(good, exif={piexif.ExifIFD.DateTimeOriginal: b"2019:05:18 09:05:00"})
    fixes = [(datetime(2019, 5, 18, 7, m, tzinfo=timezone.utc), lat, lon)
             for m, (_, lat, lon) in zip((0, 10), venice_labels(n=2))]
    track = Track.from_arrays([t.timestamp() for t, _, _ in fixes],
                              [f[1] for f in fixes], [f[2] for f in fixes])
    tags = read_geotags([bad, good])
    assert Placement(track=track, clock_offset=2).apply(tags) == [1]
    assert not tags[0].has_position and tags[1].position_source == "track"


# --- 2. time taken falls back like exiftool's composite logic ----------------------------

def _photo_with_times(tmp_path, file_name, sub=None, zeroth=None, xmp_attrs=None,
                      xmp_elements=None):
    name, lat, lon = venice_labels(n=1)[0]
    path = copy_venice(tmp_path, name, file_name)
    write_exif(path, gps=gps_ifd(lat, lon), exif=sub, zeroth=zeroth)
    if xmp_attrs or xmp_elements:
        insert_xmp(path, xmp_attrs, xmp_elements)
    return path


MODIFIED = {piexif.ImageIFD.DateTime: b"2023:01:01 10:00:00"}  # an edit, years later


@needs_exiftool
@pytest.mark.parametrize("prop,as_element,exiftool_tag,source", [
    ("exif:DateTimeOriginal", False, "DateTimeOriginal", "XMP DateTimeOriginal"),
    ("exif:DateTimeOriginal", True, "DateTimeOriginal", "XMP DateTimeOriginal"),
    ("photoshop:DateCreated", True, "XMP-photoshop:DateCreated", "XMP DateCreated"),
    ("xmp:CreateDate", False, "XMP-xmp:CreateDate", "XMP CreateDate"),
])
def test_time_taken_falls_back_to_xmp_before_the_edit_time(tmp_path, prop, as_element,
                                                           exiftool_tag, source):
    xmp = {prop: "2019-05-18T09:29:59.25+02:00"}
    path = _photo_with_times(tmp_path, "x.jpg", zeroth=MODIFIED,
                             xmp_attrs=None if as_element else xmp,
                             xmp_elements=xmp if as_element else None)
    tag = read_geotag(path)
    expected = parse_exiftool_time(exiftool_json(path, exiftool_tag)[exiftool_tag.split(":")[-1]])
    assert tag.time_taken == expected
    assert tag.time_taken == datetime(2019, 5, 18, 9, 29, 59, 250000,
                                      tzinfo=timezone(timedelta(hours=2)))
    assert tag.time_source == source
    assert tag.time_utc == datetime(2019, 5, 18, 7, 29, 59, 250000, tzinfo=timezone.utc)


@needs_exiftool
def test_exif_date_time_original_wins_over_xmp_as_in_exiftool(tmp_path):
    path = _photo_with_times(tmp_path, "x.jpg", zeroth=MODIFIED,
                             sub={piexif.ExifIFD.DateTimeOriginal: b"2019:05:18 09:29:59"},
                             xmp_attrs={"exif:DateTimeOriginal": "2020-01-01T00:00:00"})
    tag = read_geotag(path)
    assert tag.time_taken == parse_exiftool_time(
        exiftool_json(path, "DateTimeOriginal")["DateTimeOriginal"])
    assert tag.time_source == "DateTimeOriginal"


def test_time_source_names_the_fallback_and_is_appended_after_existing_columns(tmp_path):
    paths = [
        _photo_with_times(tmp_path, "original.jpg", zeroth=MODIFIED,
                          sub={piexif.ExifIFD.DateTimeOriginal: b"2019:05:18 09:29:59"}),
        _photo_with_times(tmp_path, "digitized.jpg", zeroth=MODIFIED,
                          sub={piexif.ExifIFD.DateTimeDigitized: b"2019:05:18 09:30:00"}),
        _photo_with_times(tmp_path, "modified.jpg", zeroth=MODIFIED),
        _photo_with_times(tmp_path, "none.jpg"),
    ]
    tags = read_geotags(paths)
    assert [t.time_source for t in tags] == ["DateTimeOriginal", "CreateDate",
                                             "ModifyDate (edit time)", ""]
    assert tags[2].time_taken == datetime(2023, 1, 1, 10)
    out = geotag_table(table_from_paths(paths))
    names = [v.name for v in out.domain.metas]
    old = [exif.ALTITUDE, exif.TIME_TAKEN, exif.TIME_UTC, exif.GPS_TIME_UTC, exif.MAKE,
           exif.MODEL, exif.LENS, exif.ORIENTATION, exif.DIRECTION, exif.GPS_ERROR,
           exif.WIDTH, exif.HEIGHT, exif.POSITION_SOURCE, exif.ERROR]
    start = names.index(exif.ALTITUDE)
    assert names[start:start + len(old)] == old  # existing consumers see the same order
    assert names[start + len(old):] == [exif.TIME_SOURCE, exif.WARNING]
    var = out.domain[exif.TIME_SOURCE]
    assert [var.str_val(v) for v in out.get_column(var)] == \
        ["DateTimeOriginal", "CreateDate", "ModifyDate (edit time)", "?"]


@needs_exiftool
def test_xmp_time_is_read_from_tiff_png_and_webp_too(tmp_path):
    from PIL import Image, PngImagePlugin
    packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
              'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
              'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreateDate="2019-05-18T09:30:00"/>'
              '</rdf:RDF></x:xmpmeta>')
    png_info = PngImagePlugin.PngInfo()
    png_info.add_itxt("XML:com.adobe.xmp", packet)
    with Image.open(copy_venice(tmp_path, venice_labels(n=1)[0][0])) as im:
        im.load()
        for ext, kwargs in ((".tif", {"tiffinfo": {700: packet.encode()}}),
                            (".png", {"pnginfo": png_info}),
                            (".webp", {"xmp": packet.encode()})):
            path = tmp_path / f"photo{ext}"
            im.save(path, **kwargs)
            tag = read_geotag(str(path))
            assert tag.time_source == "XMP CreateDate", ext
            assert tag.time_taken == parse_exiftool_time(
                exiftool_json(path, "XMP-xmp:CreateDate")["CreateDate"]), ext


# --- 3. UTF-8 text in EXIF ------------------------------------------------------------------

@needs_exiftool
def test_utf8_and_latin1_exif_text_read_as_exiftool_reads_it(tmp_path):
    name = venice_labels(n=1)[0][0]
    path = copy_venice(tmp_path, name)
    text = "Ł lens é"
    write_exif(path, zeroth={piexif.ImageIFD.Make: text.encode("utf-8"),
                             piexif.ImageIFD.Model: "Café".encode("latin-1")},
               exif={piexif.ExifIFD.LensModel: text.encode("utf-8")})
    tag = read_geotag(path)
    reference = exiftool_json(path, "Make", "LensModel")
    assert tag.make == reference["Make"] == text
    assert tag.lens == reference["LensModel"] == text
    # not valid UTF-8: Latin-1, as exiftool reads it when told the EXIF charset is Latin
    assert tag.model == exiftool_json(path, "Model", charset="latin")["Model"] == "Café"


# --- 4. GPS 0/0 --------------------------------------------------------------------------

def _zero_zero_photo(tmp_path, file_name="nofix.jpg"):
    path = copy_venice(tmp_path, venice_labels(n=1)[0][0], file_name)
    write_exif(path, gps=gps_ifd(0.0, 0.0),
               exif={piexif.ExifIFD.DateTimeOriginal: b"2019:05:18 09:05:00",
                     piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"})
    return path


def test_gps_zero_zero_is_no_position_with_a_warning(tmp_path):
    nofix = _zero_zero_photo(tmp_path)
    equator = copy_venice(tmp_path, venice_labels(n=1)[0][0], "equator.jpg")
    write_exif(equator, gps=gps_ifd(0.0, 9.5))  # a real place in the Gulf of Guinea
    tag, real = read_geotags([nofix, equator])
    assert math.isnan(tag.latitude) and math.isnan(tag.longitude)
    assert tag.position_source == "" and tag.error == ""
    assert tag.warning == "GPS 0/0 (camera had no fix), ignored"
    assert (real.latitude, real.longitude) == (0.0, 9.5) and real.warning == ""
    # a photo without a fix can then be placed by a track, flagged as such
    fixes = [(datetime(2019, 5, 18, 7, m, tzinfo=timezone.utc), lat, lon)
             for m, (_, lat, lon) in zip((0, 10), venice_labels(n=2))]
    track = Track.from_arrays([t.timestamp() for t, _, _ in fixes],
                              [f[1] for f in fixes], [f[2] for f in fixes])
    assert Placement(track=track).apply([tag]) == [0]
    assert tag.position_source == "track"


def test_gps_zero_zero_through_the_command(tmp_path):
    nofix = _zero_zero_photo(tmp_path)
    out = tmp_path / "g.csv"
    done = run_cli("exif", nofix, "-o", str(out))
    assert done.returncode == 0, done.stderr
    with open(out, encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert row["latitude"] == row["longitude"] == "" and row["error"] == ""
    assert row["warning"] == "GPS 0/0 (camera had no fix), ignored"
    assert "0 with a position" in done.stderr and "1 with a warning" in done.stderr


# --- 5. GPX files: declared encodings, tracks with no usable point -----------------------

GPX_TEMPLATE = ('<?xml version="1.0" encoding="{encoding}"?>\n'
                '<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">'
                '<trk><name>{name}</name><trkseg>{points}</trkseg></trk></gpx>\n')


def _gpx(path, points, name="Café", encoding="ISO-8859-1"):
    body = "".join(f'<trkpt lat="{lat}" lon="{lon}">'
                   + (f"<time>{t}</time>" if t else "") + "</trkpt>"
                   for t, lat, lon in points)
    path.write_bytes(GPX_TEMPLATE.format(encoding=encoding, name=name, points=body)
                     .encode("latin-1" if encoding == "ISO-8859-1" else encoding))
    return str(path)


def _walk_points(n=3):
    start = datetime(2019, 5, 18, 7, 0, tzinfo=timezone.utc)
    return [((start + timedelta(minutes=10 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"), lat, lon)
            for i, (_, lat, lon) in enumerate(venice_labels(n=n))]


def test_latin1_gpx_with_its_declaration_is_read(tmp_path):
    points = _walk_points()
    path = _gpx(tmp_path / "walk.gpx", points)
    assert "Caf\xe9".encode("latin-1") in open(path, "rb").read()
    track = track_from_gpx(path)
    assert len(track) == 3
    assert track.latitudes == pytest.approx([p[1] for p in points])


UNUSABLE = [("2019-05-18T07:00:00Z", 999, 12.3), ("2019-05-18T07:10:00Z", 45.4, "nan"),
            (None, 45.43, 12.33)]


def test_a_track_with_no_usable_point_says_so(tmp_path):
    path = _gpx(tmp_path / "bad.gpx", UNUSABLE, encoding="UTF-8")
    with pytest.raises(NoUsablePoints, match="the track has no usable points"):
        track_from_gpx(path)
    table = Table.from_numpy(
        Domain([TimeVariable("time", have_date=True, have_time=True),
                ContinuousVariable("latitude"), ContinuousVariable("longitude")]),
        np.array([[1.5e9, np.nan, 12.3], [np.nan, 45.4, 12.3], [1.5e9, 120.0, 12.3]]))
    with pytest.raises(NoUsablePoints, match="the track has no usable points"):
        track_from_table(table)


def test_command_reports_a_track_with_no_usable_point_in_one_line(tmp_path):
    path = _gpx(tmp_path / "bad.gpx", UNUSABLE, encoding="UTF-8")
    photo = copy_venice(tmp_path, venice_labels(n=1)[0][0])
    done = run_cli("exif", photo, "--gpx", path)
    assert done.returncode == 1
    assert done.stderr.strip() == \
        f"geophoto exif: error: {path}: the track has no usable points (time and position)"
    ok = run_cli("-q", "exif", photo, "--gpx", _gpx(tmp_path / "latin.gpx", _walk_points()))
    assert ok.returncode == 0, ok.stderr


# --- the XMP reader is total on hostile packets ------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=60).map(str.encode))
def test_xmp_reader_and_date_parser_are_total(raw):
    found = exif.xmp_times(raw)
    assert isinstance(found, dict)
    moment = exif.parse_xmp_datetime(raw.decode("latin-1"))
    assert moment is None or isinstance(moment, datetime)


def test_entity_bomb_or_broken_xmp_leaves_the_exif_values(tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">'
                      for p, c in zip("abcdefgh", "bcdefghi"))
            + ']><x:xmpmeta xmlns:x="adobe:ns:meta/">&i;</x:xmpmeta>').encode()
    assert exif.xmp_times(bomb) == {}
    path = _photo_with_times(tmp_path, "x.jpg",
                             sub={piexif.ExifIFD.DateTimeDigitized: b"2019:05:18 09:30:00"},
                             xmp_attrs={"xmp:CreateDate": '2019-05-18T09:30:00"broken'})
    tag = read_geotag(path)
    assert tag.error == "" and tag.time_source == "CreateDate"
    assert tag.position_source == "exif"
