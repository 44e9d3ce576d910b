"""Place photos that carry no GPS position (no Qt).

Two sources, both by time: a GPS track (a table with time, latitude and longitude, or a GPX
file read with gpxpy), interpolated at the photo's UTC time; and geotagged photos taken within
N minutes, interpolated between the nearest one before and after. Placed photos are flagged in
``position source`` (``track`` / ``neighbours``) so they are never mistaken for EXIF fixes.
"""
import codecs
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Sequence

import numpy as np


NO_USABLE_POINTS = "the track has no usable points (time and position)"


class NoUsablePoints(ValueError):
    """A track in which no point has both a time and a valid position: it can place nothing,
    which must be said rather than leave every photo silently unplaced."""


@dataclass
class Track:
    """Track points sorted by time: ``times`` in POSIX seconds (UTC), degrees."""
    times: np.ndarray
    latitudes: np.ndarray
    longitudes: np.ndarray

    @classmethod
    def from_arrays(cls, times, latitudes, longitudes) -> "Track":
        times, lats, lons = (np.asarray(a, dtype=float) for a in (times, latitudes, longitudes))
        with np.errstate(invalid="ignore"):
            ok = (np.isfinite(times) & np.isfinite(lats) & np.isfinite(lons)
                  & (np.abs(lats) <= 90) & (np.abs(lons) <= 180))
        order = np.argsort(times[ok], kind="stable")
        return cls(times[ok][order], lats[ok][order], lons[ok][order])

    def __len__(self):
        return len(self.times)

    def usable(self, where: str = "") -> "Track":
        """This track, or :class:`NoUsablePoints` (prefixed by ``where``) when it is empty."""
        if not len(self):
            raise NoUsablePoints(f"{where}: {NO_USABLE_POINTS}" if where else NO_USABLE_POINTS)
        return self


_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.-]*)["']""")


def _xml_text(raw: bytes) -> str:
    """XML bytes as text in the encoding they declare, as an XML parser reads them: a byte
    order mark, else the ``<?xml ... encoding="..."?>`` declaration, else UTF-8. The
    declaration is then dropped so that the text is not decoded twice (gpxpy hands lxml
    the text re-encoded as UTF-8)."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            text = raw.decode(name)
            break
    else:
        declared = _XML_ENCODING.match(raw)
        name = declared.group(1).decode("ascii") if declared else "utf-8"
        try:
            text = raw.decode(name)
        except LookupError as ex:
            raise ValueError(f"unknown encoding {name!r}") from ex
    return re.sub(r"^\ufeff?<\?xml[^>]*\?>", "", text, count=1)


def track_from_gpx(path: str) -> Track:
    """All track, route and waypoint fixes with a time in a GPX file."""
    import gpxpy
    with open(path, "rb") as f:
        raw = f.read()
    try:
        gpx = gpxpy.parse(_xml_text(raw))
    except Exception as ex:  # gpxpy raises its own GPXException and XML errors
        raise ValueError(f"{path}: not a readable GPX file ({ex})") from ex
    points = [p for t in gpx.tracks for s in t.segments for p in s.points]
    points += [p for r in gpx.routes for p in r.points] + list(gpx.waypoints)
    fixes = [(p.time, p.latitude, p.longitude) for p in points if p.time is not None]
    times = [(t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()
             for t, _, _ in fixes]
    track = Track.from_arrays(times, [f[1] for f in fixes], [f[2] for f in fixes])
    return track.usable(path)


def track_from_table(table) -> Track:
    """A track from an Orange table with a time column and latitude/longitude."""
    from orangecontrib.geophoto.tables import find_lat_lon
    lat_var, lon_var = find_lat_lon(table)
    time_var = next((v for v in (*table.domain.variables, *table.domain.metas)
                     if v.is_time), None)
    if lat_var is None or time_var is None:
        raise ValueError("a track needs a time column and latitude/longitude columns")
    return Track.from_arrays(table.get_column(time_var), table.get_column(lat_var),
                             table.get_column(lon_var)).usable()


def interpolate(track: Track, times: np.ndarray, max_gap: float) -> np.ndarray:
    """(n, 2) positions at ``times`` (seconds), linear between the bracketing fixes; NaN
    where the photo is before/after the track or the nearest fix is over ``max_gap`` s away.
    A photo within ``max_gap`` of a track end takes the end's position."""
    out = np.full((len(times), 2), np.nan)
    if not len(track):
        return out
    t = track.times
    right = np.searchsorted(t, times, side="left")
    for i, (when, r) in enumerate(zip(times, right)):
        if not math.isfinite(when):
            continue
        left = r - 1
        before = when - t[left] if left >= 0 else math.inf
        after = t[r] - when if r < len(t) else math.inf
        if min(before, after) > max_gap:
            continue
        if math.isfinite(before) and math.isfinite(after) and before + after > 0:
            w = before / (before + after)
            out[i] = (track.latitudes[left] * (1 - w) + track.latitudes[r] * w,
                      track.longitudes[left] * (1 - w) + track.longitudes[r] * w)
        else:
            j = left if before <= after else r
            out[i] = track.latitudes[j], track.longitudes[j]
    return out


@dataclass
class Placement:
    """How to place photos without GPS; applied to GeoTags in place.

    ``clock_offset`` (hours) is the camera clock minus UTC, used for photos whose own
    metadata gives no UTC time. ``max_gap`` (minutes) bounds the distance in time to the
    nearest track fix; ``neighbour_minutes`` enables placement between geotagged photos
    taken within that many minutes (0 disables it)."""
    track: Optional[Track] = None
    clock_offset: float = 0.0
    max_gap: float = 10.0
    neighbour_minutes: float = 0.0

    def photo_times(self, tags) -> np.ndarray:
        """UTC seconds of each photo, from its metadata or the camera clock and offset."""
        times = np.full(len(tags), np.nan)
        for i, tag in enumerate(tags):
            if tag.time_utc is not None:
                times[i] = tag.time_utc.timestamp()
            elif tag.time_taken is not None:
                clock = tag.time_taken.replace(tzinfo=timezone.utc)
                try:
                    times[i] = (clock - timedelta(hours=self.clock_offset)).timestamp()
                except OverflowError:  # a clock reading of year 1 or 9999: no time
                    pass
        return times

    def apply(self, tags: Sequence) -> List[int]:
        """Give positions to photos that lack one; returns the indices placed."""
        missing = [i for i, t in enumerate(tags) if not t.has_position and not t.error]
        if not missing:
            return []
        times = self.photo_times(tags)
        placed = []
        if self.track is not None and len(self.track):
            positions = interpolate(self.track, times[missing], self.max_gap * 60)
            placed += self._set(tags, missing, positions, "track", times)
        if self.neighbour_minutes > 0:
            left = [i for i in missing if not tags[i].has_position]
            anchors = [i for i, t in enumerate(tags)
                       if t.position_source == "exif" and math.isfinite(times[i])]
            if left and anchors:
                neighbours = Track.from_arrays(times[anchors],
                                               [tags[i].latitude for i in anchors],
                                               [tags[i].longitude for i in anchors])
                positions = interpolate(neighbours, times[left], self.neighbour_minutes * 60)
                placed += self._set(tags, left, positions, "neighbours", times)
        return placed

    @staticmethod
    def _set(tags, indices, positions, source, times) -> List[int]:
        placed = []
        for i, (lat, lon) in zip(indices, positions):
            if math.isfinite(lat):
                tag = tags[i]
                tag.latitude, tag.longitude, tag.position_source = float(lat), float(lon), source
                if tag.time_utc is None:  # the time it was placed by: camera clock - offset
                    tag.time_utc = datetime.fromtimestamp(times[i], timezone.utc)
                placed.append(i)
        return placed
