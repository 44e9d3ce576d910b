"""Real photos with metadata written into copies, for EXIF tests (made in the test run)."""
import csv
import os
import shutil
from fractions import Fraction

import piexif

from tests.conftest import VENICE, venice_or_skip


def venice_labels(n=None, split=None):
    """[(file name, latitude, longitude)] from ../shared/data/venice/labels.csv."""
    venice_or_skip()
    with open(os.path.join(VENICE, "labels.csv"), encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if split is None or r["split"] == split]
    rows = [(r["image"], float(r["latitude"]), float(r["longitude"])) for r in rows]
    return rows[:n] if n else rows


def rational(value, denominator=1_000_000):
    frac = Fraction(value).limit_denominator(denominator)
    return frac.numerator, frac.denominator


def dms(value, seconds_denominator=1_000_000):
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return (degrees, 1), (minutes, 1), rational(seconds, seconds_denominator)


def gps_ifd(lat, lon, encoding="dms", refs="upper", altitude=None):
    """A piexif GPS IFD for a position in one of the encodings cameras use."""
    if encoding == "dms":
        lat_v, lon_v = dms(lat), dms(lon)
    elif encoding == "decimal":  # whole value in the degrees rational
        lat_v = (rational(abs(lat)), (0, 1), (0, 1))
        lon_v = (rational(abs(lon)), (0, 1), (0, 1))
    elif encoding == "decimal-minutes":  # degrees + decimal minutes, seconds 0
        lat_v = ((int(abs(lat)), 1), rational((abs(lat) % 1) * 60), (0, 1))
        lon_v = ((int(abs(lon)), 1), rational((abs(lon) % 1) * 60), (0, 1))
    else:
        raise ValueError(encoding)
    ifd = {piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
           piexif.GPSIFD.GPSLatitude: lat_v, piexif.GPSIFD.GPSLongitude: lon_v}
    if refs != "missing":
        lat_ref, lon_ref = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
        if refs == "lower":
            lat_ref, lon_ref = lat_ref.lower(), lon_ref.lower()
        ifd[piexif.GPSIFD.GPSLatitudeRef] = lat_ref.encode()
        ifd[piexif.GPSIFD.GPSLongitudeRef] = lon_ref.encode()
    if altitude is not None:
        ifd[piexif.GPSIFD.GPSAltitude] = rational(abs(altitude), 1000)
        ifd[piexif.GPSIFD.GPSAltitudeRef] = 1 if altitude < 0 else 0
    return ifd


def write_exif(path, gps=None, exif=None, zeroth=None):
    """Insert EXIF (piexif dicts) into a JPEG/WebP/TIFF copy in place."""
    data = {"0th": zeroth or {}, "Exif": exif or {}, "GPS": gps or {}, "1st": {},
            "thumbnail": None}
    piexif.insert(piexif.dump(data), path)


def copy_venice(tmp_dir, name, new_name=None):
    src = os.path.join(venice_or_skip(), "images", name)
    dst = os.path.join(str(tmp_dir), new_name or name)
    shutil.copyfile(src, dst)
    return dst


def exif_bytes(gps=None, exif=None, zeroth=None):
    return piexif.dump({"0th": zeroth or {}, "Exif": exif or {}, "GPS": gps or {},
                        "1st": {}, "thumbnail": None})


def write_gpx(path, fixes):
    """A GPX track of ``fixes`` [(time, latitude, longitude)] written with gpxpy, as a
    GPS logger's file; returns its path."""
    import gpxpy.gpx
    gpx = gpxpy.gpx.GPX()
    segment = gpxpy.gpx.GPXTrackSegment()
    segment.points = [gpxpy.gpx.GPXTrackPoint(lat, lon, time=t) for t, lat, lon in fixes]
    track = gpxpy.gpx.GPXTrack()
    track.segments.append(segment)
    gpx.tracks.append(track)
    with open(path, "w", encoding="utf-8") as f:
        f.write(gpx.to_xml())
    return str(path)
