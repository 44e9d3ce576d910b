"""Placing photos without GPS from a GPX track, a track table, or time neighbours."""
from datetime import datetime, timedelta, timezone

import numpy as np
import piexif
import pytest
from Orange.data import ContinuousVariable, Domain, Table, TimeVariable

from orangecontrib.geophoto.exif import geotag_table, read_geotags
from orangecontrib.geophoto.tables import table_from_paths
from orangecontrib.geophoto.track import (
    Placement, Track, interpolate, track_from_gpx, track_from_table,
)
from tests.exif_fixtures import copy_venice, gps_ifd, venice_labels, write_exif, write_gpx

START = datetime(2019, 5, 18, 7, 0, tzinfo=timezone.utc)


def _walk(n=6):
    """A real walk: Venice photo positions as track fixes ten minutes apart."""
    return [(START + timedelta(minutes=10 * i), lat, lon)
            for i, (_, lat, lon) in enumerate(venice_labels(n=n))]


def _photo(tmp_path, name, taken: datetime, offset=None, position=None):
    path = copy_venice(tmp_path, venice_labels(n=1)[0][0], name)
    exif = {piexif.ExifIFD.DateTimeOriginal: taken.strftime("%Y:%m:%d %H:%M:%S").encode()}
    if offset:
        exif[piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    write_exif(path, exif=exif, gps=gps_ifd(*position) if position else None)
    return path


def test_interpolation_between_fixes_and_gap_limit():
    fixes = _walk(3)
    track = Track.from_arrays([t.timestamp() for t, _, _ in fixes],
                              [f[1] for f in fixes], [f[2] for f in fixes])
    t0 = fixes[0][0].timestamp()
    pos = interpolate(track, np.array([t0 + 150, t0 - 30, t0 + 3600, np.nan]), max_gap=200)
    w = 150 / 600
    assert pos[0] == pytest.approx([fixes[0][1] * (1 - w) + fixes[1][1] * w,
                                    fixes[0][2] * (1 - w) + fixes[1][2] * w])
    assert pos[1] == pytest.approx(fixes[0][1:])  # 30 s before the start: the first fix
    assert np.isnan(pos[2:]).all()                # an hour after the end / no time


def test_gpx_places_photos_by_time_with_clock_offset(tmp_path):
    fixes = _walk()
    gpx = write_gpx(tmp_path / "walk.gpx", fixes)
    # camera set to local summer time (UTC+2) without an offset tag: clock offset 2 h
    at_fix = _photo(tmp_path, "a.jpg", (fixes[2][0] + timedelta(hours=2)).replace(tzinfo=None))
    with_offset = _photo(tmp_path, "b.jpg", fixes[4][0].astimezone(
        timezone(timedelta(hours=2))).replace(tzinfo=None), offset="+02:00")
    far = _photo(tmp_path, "c.jpg", datetime(2019, 5, 19, 12, 0))
    tags = read_geotags([at_fix, with_offset, far])
    placed = Placement(track=track_from_gpx(gpx), clock_offset=2, max_gap=5).apply(tags)
    assert placed == [0, 1]
    assert (tags[0].latitude, tags[0].longitude) == pytest.approx(fixes[2][1:])
    assert (tags[1].latitude, tags[1].longitude) == pytest.approx(fixes[4][1:])
    assert [t.position_source for t in tags] == ["track", "track", ""]
    assert tags[0].time_utc == fixes[2][0]


def test_exif_positions_win_over_the_track(tmp_path):
    fixes = _walk()
    own = (-33.8688, 151.2093)
    path = _photo(tmp_path, "own.jpg", fixes[1][0].replace(tzinfo=None), offset="+00:00",
                  position=own)
    tags = read_geotags([path])
    Placement(track=track_from_gpx(write_gpx(tmp_path / "w.gpx", fixes))).apply(tags)
    assert (tags[0].latitude, tags[0].longitude, tags[0].position_source) == \
        (pytest.approx(own[0]), pytest.approx(own[1]), "exif")


def test_neighbours_place_photos_between_geotagged_ones(tmp_path):
    fixes = _walk(2)
    before = _photo(tmp_path, "1.jpg", fixes[0][0].replace(tzinfo=None), "+00:00", fixes[0][1:])
    after = _photo(tmp_path, "3.jpg", fixes[1][0].replace(tzinfo=None), "+00:00", fixes[1][1:])
    middle = _photo(tmp_path, "2.jpg", (fixes[0][0] + timedelta(minutes=5)).replace(
        tzinfo=None), "+00:00")
    lonely = _photo(tmp_path, "4.jpg", (fixes[1][0] + timedelta(hours=3)).replace(
        tzinfo=None), "+00:00")
    data = table_from_paths([before, middle, after, lonely])
    out = geotag_table(data, placement=Placement(neighbour_minutes=15))
    lat = out.get_column("latitude")
    assert lat[1] == pytest.approx((fixes[0][1] + fixes[1][1]) / 2)
    assert np.isnan(lat[3])
    sources = [out.domain["position source"].str_val(v)
               for v in out.get_column("position source")]
    assert sources == ["exif", "neighbours", "exif", "?"]


def test_track_from_table_and_bad_gpx(tmp_path):
    fixes = _walk(4)
    domain = Domain([TimeVariable("time", have_date=True, have_time=True),
                     ContinuousVariable("latitude"), ContinuousVariable("longitude")])
    table = Table.from_numpy(domain, np.array([[t.timestamp(), a, o] for t, a, o in fixes]))
    track = track_from_table(table)
    assert len(track) == 4 and track.latitudes[0] == pytest.approx(fixes[0][1])
    bad = tmp_path / "bad.gpx"
    bad.write_text("<gpx><trk>not closed")
    with pytest.raises(ValueError, match="not a readable GPX"):
        track_from_gpx(str(bad))
    no_lat = Table.from_numpy(Domain([domain[0]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="time column and latitude"):
        track_from_table(no_lat)
