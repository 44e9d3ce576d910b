"""Build workflows/walk (photos without GPS) and workflows/walk.gpx (the GPS track of the walk
on which they were taken; outside the photos' folder, which Import Images reads whole), for
the "Geotag photos from a GPS track" example (EXIF Geotag places them by the
track, Write Geotags writes the positions into XMP sidecars).

The photos are copies of six of the bundled workflows/photos (made by make_sample_photos.py
from shared/data/venice) with their GPS EXIF removed and everything else kept, the capture
time with its UTC offset included. The track is derived from the positions their authors
recorded: a fix every minute from five minutes before the first photo to five minutes after
the last, walking in a straight line from one photo's position to the next between their
capture times, at 30 s past the minute so that no fix coincides with a photo.

Run once by a maintainer; the output is committed. Not used at run time.

    .venv/bin/python tools/make_walk_photos.py
"""
import os
import shutil
import sys
from datetime import timedelta

import gpxpy.gpx
import numpy as np
import piexif

from orangecontrib.geophoto.exif import read_geotag

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "workflows", "photos")
OUT = os.path.join(ROOT, "workflows", "walk")
# the first six photos of workflows/photos in time, 23 minutes apart
CHOSEN = ["venice-0.jpg", "venice-47.jpg", "venice-74.jpg", "venice-1268.jpg",
          "venice-1538.jpg", "venice-1808.jpg"]
TRACK = os.path.join(ROOT, "workflows", "walk.gpx")


def copy_without_gps(src: str, dst: str) -> None:
    """``src`` copied to ``dst`` with an empty GPS IFD (and no pointer to it)."""
    shutil.copyfile(src, dst)
    exif = piexif.load(dst)
    exif["GPS"] = {}
    exif["0th"].pop(piexif.ImageIFD.GPSTag, None)
    piexif.insert(piexif.dump(exif), dst)


def track_points(tags):
    """(UTC datetimes, latitudes, longitudes) of a fix a minute along the photos' path."""
    times = np.array([t.time_utc.timestamp() for t in tags])
    lats = np.array([t.latitude for t in tags])
    lons = np.array([t.longitude for t in tags])
    start = tags[0].time_utc.replace(second=30) - timedelta(minutes=5)
    end = tags[-1].time_utc + timedelta(minutes=5)
    moments = []
    while start <= end:
        moments.append(start)
        start += timedelta(minutes=1)
    at = np.array([m.timestamp() for m in moments])
    return moments, np.interp(at, times, lats), np.interp(at, times, lons)


def write_gpx(path: str, moments, lats, lons) -> None:
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "geophoto tools/make_walk_photos.py"
    track = gpxpy.gpx.GPXTrack(name="A walk in Venice, 18 May 2019")
    segment = gpxpy.gpx.GPXTrackSegment()
    segment.points = [gpxpy.gpx.GPXTrackPoint(round(float(lat), 7), round(float(lon), 7),
                                              time=moment)
                      for moment, lat, lon in zip(moments, lats, lons)]
    track.segments.append(segment)
    gpx.tracks.append(track)
    with open(path, "w", encoding="utf-8") as f:
        f.write(gpx.to_xml())


def main():
    tags = [read_geotag(os.path.join(SOURCE, name)) for name in CHOSEN]
    assert all(t.has_position and t.time_utc is not None for t in tags)
    os.makedirs(OUT, exist_ok=True)
    for name in CHOSEN:
        dst = os.path.join(OUT, name)
        copy_without_gps(os.path.join(SOURCE, name), dst)
        assert not read_geotag(dst).has_position
        print(dst, file=sys.stderr)
    write_gpx(TRACK, *track_points(tags))
    print(TRACK, file=sys.stderr)


if __name__ == "__main__":
    main()
