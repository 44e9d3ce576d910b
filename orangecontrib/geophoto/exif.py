"""EXIF Geotag core: where, when and with what each photo was taken (no Qt).

Reads metadata only, never pixels: Pillow opens images lazily and parses just the headers
(JPEG APP1/SOF, TIFF IFDs, PNG/WebP chunks; HEIC/HEIF through pillow-heif). Values follow
exiftool's conventions (``exiftool -n``): decimal degrees on WGS 84, south and west negative,
metres with below-sea-level negative. A position is never invented: a coordinate that cannot
be decoded exactly is missing.
"""
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Callable, List, Optional, Sequence

import numpy as np

from orangecontrib.geophoto.images import ImageError, open_file, register_heif
from orangecontrib.geophoto.progress import check_stop, no_progress

# Column names (the contract other widgets and the CLI rely on).
LATITUDE = "latitude"
LONGITUDE = "longitude"
ALTITUDE = "altitude (m)"
TIME_TAKEN = "time taken"
TIME_UTC = "time (UTC)"
GPS_TIME_UTC = "GPS time (UTC)"
MAKE = "camera make"
MODEL = "camera model"
LENS = "lens"
ORIENTATION = "orientation"
DIRECTION = "image direction"
GPS_ERROR = "GPS error (m)"
WIDTH = "width"
HEIGHT = "height"
POSITION_SOURCE = "position source"
ERROR = "error"
POSITION_SOURCES = ("exif", "track", "neighbours")

# EXIF tag numbers (EXIF 2.32 / TIFF 6).
_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_ORIGINAL, _OFFSET_DIGITIZED, _OFFSET = 0x9011, 0x9012, 0x9010
_SUBSEC_ORIGINAL, _SUBSEC_DIGITIZED = 0x9291, 0x9292
_LENS_MODEL, _LENS_MAKE = 0xA434, 0xA433
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_GPS_ALT_REF, _GPS_ALT, _GPS_TIMESTAMP = 5, 6, 7
_GPS_DIRECTION, _GPS_DATESTAMP, _GPS_HERROR = 17, 29, 31

# Large files are fine (only headers are read), but refuse absurd header sizes.
MAX_FILE_BYTES = 2 ** 32


@dataclass
class GeoTag:
    """Metadata of one photo; missing values are NaN/None/"" and ``error`` says why a
    file could not be read at all."""
    path: Optional[str]
    latitude: float = math.nan
    longitude: float = math.nan
    altitude: float = math.nan
    time_taken: Optional[datetime] = None  # camera's wall clock; tz-aware if offset known
    time_utc: Optional[datetime] = None
    gps_time_utc: Optional[datetime] = None
    make: str = ""
    model: str = ""
    lens: str = ""
    orientation: float = math.nan
    direction: float = math.nan
    gps_error: float = math.nan
    width: float = math.nan
    height: float = math.nan
    position_source: str = ""
    error: str = ""

    @property
    def has_position(self) -> bool:
        return math.isfinite(self.latitude) and math.isfinite(self.longitude)


# --- decoding helpers (pure; property-tested) ------------------------------------------

def rational_to_float(value) -> float:
    """A TIFF rational as float: Pillow's IFDRational, a (numerator, denominator) pair, or
    a number. A zero denominator gives NaN (0/0) or +-inf (n/0), as exiftool reads them."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        num, den = value
        num, den = float(num), float(den)
        if den == 0:
            return math.nan if num == 0 else math.copysign(math.inf, num)
        return num / den
    try:
        num, den = value.numerator, value.denominator
    except AttributeError:
        return float(value)
    if den == 0:
        return math.nan if num == 0 else math.copysign(math.inf, num)
    return float(num) / float(den)


def _text(value) -> str:
    """An ASCII/UTF-8 EXIF string, stripped of NULs and spaces; "" for non-text."""
    if isinstance(value, bytes):
        value = value.split(b"\x00", 1)[0].decode("utf-8", "replace")
    elif not isinstance(value, str):
        return ""
    return value.split("\x00", 1)[0].strip()


def dms_to_degrees(dms, ref=None, negative_refs=("S", "W")) -> float:
    """Degrees, minutes, seconds (1 to 3 rationals) and a hemisphere ref as signed decimal
    degrees, exiftool-style: ``deg + min/60 + sec/3600``; a lower-case ref counts, a missing
    ref means no sign change; an undefined component (0/0 or n/0) makes the value NaN, never
    a guess."""
    if dms is None:
        return math.nan
    if not isinstance(dms, (tuple, list)):
        dms = (dms,)
    parts = [rational_to_float(v) for v in dms[:3]]
    if not parts or not all(math.isfinite(p) for p in parts):
        return math.nan
    degrees = sum(p / 60 ** i for i, p in enumerate(parts))
    ref = _text(ref).upper()[:1]
    if ref in negative_refs:
        degrees = -degrees
    return degrees


def parse_exif_datetime(text, subsec=None, offset=None) -> Optional[datetime]:
    """``YYYY:MM:DD HH:MM:SS`` (also with ``-``/``T``) plus SubSec digits and an
    ``+HH:MM`` offset; None for blank or impossible dates (``0000:00:00 00:00:00``)."""
    text = _text(text)
    if len(text) < 19:
        return None
    try:
        moment = datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]),
                          int(text[11:13]), int(text[14:16]), int(text[17:19]))
    except ValueError:
        return None
    digits = "".join(c for c in _text(subsec) if c.isdigit())
    if digits:
        moment += timedelta(seconds=int(digits) / 10 ** len(digits))
    tz = parse_offset(offset)
    return moment.replace(tzinfo=tz) if tz else moment


def parse_offset(text) -> Optional[timezone]:
    """``+02:00``/``-0530`` as a timezone; None when absent or malformed."""
    text = _text(text).replace(":", "")
    if len(text) != 5 or text[0] not in "+-" or not text[1:].isdigit():
        return None
    hours, minutes = int(text[1:3]), int(text[3:5])
    if hours > 14 or minutes >= 60:
        return None
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _gps_datetime(datestamp, timestamp) -> Optional[datetime]:
    date = _text(datestamp)
    if len(date) < 10 or not isinstance(timestamp, (tuple, list)) or len(timestamp) != 3:
        return None
    hms = [rational_to_float(v) for v in timestamp]
    if not all(math.isfinite(v) for v in hms):
        return None
    try:
        day = datetime(int(date[0:4]), int(date[5:7]), int(date[8:10]), tzinfo=timezone.utc)
    except ValueError:
        return None
    return day + timedelta(hours=hms[0], minutes=hms[1], seconds=hms[2])


@lru_cache(maxsize=1)
def _timezone_finder():
    from timezonefinder import TimezoneFinder
    return TimezoneFinder(in_memory=True)


def local_to_utc(moment: datetime, latitude: float, longitude: float) -> Optional[datetime]:
    """UTC of a camera's wall-clock time: by its own offset when it has one, else by the
    time zone at the photo's coordinates (timezonefinder, offline); None otherwise."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc)
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    name = _timezone_finder().timezone_at(lat=latitude, lng=longitude)
    if name is None:
        return None
    from zoneinfo import ZoneInfo
    return moment.replace(tzinfo=ZoneInfo(name)).astimezone(timezone.utc)


# --- reading files -------------------------------------------------------------------------

def read_geotag(path: Optional[str]) -> GeoTag:
    """Metadata of one file. Never raises: a problem is described in ``GeoTag.error``."""
    tag = GeoTag(path=path)
    try:
        f, info = open_file(path)  # refuses FIFOs, devices, folders and URLs unopened
    except ImageError as ex:
        tag.error = str(ex)
        return tag
    with f:
        if info.st_size == 0:
            tag.error = "empty file"
        elif info.st_size > MAX_FILE_BYTES:
            tag.error = f"file too large ({info.st_size} bytes)"
        else:
            try:
                _read_into(tag, f)
            except Exception as ex:  # pylint: disable=broad-except
                # Untrusted files: any parser failure is reported on the row, never raised.
                tag.error = _describe_error(ex)
    return tag


def _describe_error(ex: Exception) -> str:
    from PIL import Image, UnidentifiedImageError
    if isinstance(ex, UnidentifiedImageError):
        return "not an image file (or an unsupported format)"
    if isinstance(ex, Image.DecompressionBombError):
        return f"refused as a decompression bomb: {ex}"
    if isinstance(ex, RecursionError):
        return "corrupt metadata (recursive EXIF structure)"
    message = str(ex) or type(ex).__name__
    return f"unreadable: {message[:200]}"


def _read_into(tag: GeoTag, f) -> None:
    from PIL import Image
    register_heif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on odd EXIF; we report per field
        with Image.open(f) as im:
            tag.width, tag.height = float(im.size[0]), float(im.size[1])
            exif = _exif_of(im)
            _decode_exif(tag, exif)
    tag.time_utc = local_to_utc(tag.time_taken, tag.latitude, tag.longitude)
    if tag.has_position:
        tag.position_source = "exif"


def _exif_of(im):
    """The image's EXIF without decoding pixels (PNG's getexif would load the image when
    its eXIf chunk is absent from the header)."""
    from PIL import Image
    if im.format in ("PNG", "WEBP"):
        exif = Image.Exif()
        raw = im.info.get("exif")
        if raw:
            exif.load(raw)
        return exif
    return im.getexif()


def _ifd(exif, tag_id) -> dict:
    try:
        return dict(exif.get_ifd(tag_id))
    except Exception:  # pylint: disable=broad-except
        return {}


def _decode_exif(tag: GeoTag, exif) -> None:
    base = dict(exif)
    sub = _ifd(exif, _EXIF_IFD)
    gps = _ifd(exif, _GPS_IFD)

    tag.make = _text(base.get(_MAKE))
    tag.model = _text(base.get(_MODEL))
    tag.lens = _text(sub.get(_LENS_MODEL))
    orientation = base.get(_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        tag.orientation = float(orientation)

    taken = sub.get(_DATETIME_ORIGINAL)
    subsec, offset = sub.get(_SUBSEC_ORIGINAL), sub.get(_OFFSET_ORIGINAL)
    if not _text(taken):
        taken, subsec = sub.get(_DATETIME_DIGITIZED), sub.get(_SUBSEC_DIGITIZED)
        offset = sub.get(_OFFSET_DIGITIZED)
    if not _text(taken):
        taken, subsec, offset = base.get(_DATETIME), None, sub.get(_OFFSET)
    tag.time_taken = parse_exif_datetime(taken, subsec, offset)

    if gps:
        lat = dms_to_degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), ("S",))
        lon = dms_to_degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), ("W",))
        if math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180:
            tag.latitude, tag.longitude = lat, lon
        if _GPS_ALT in gps:
            alt = rational_to_float(gps[_GPS_ALT])
            ref = gps.get(_GPS_ALT_REF)
            if isinstance(ref, bytes):
                ref = ref[0] if ref else 0
            if math.isfinite(alt):
                tag.altitude = -alt if ref == 1 else alt
        tag.gps_time_utc = _gps_datetime(gps.get(_GPS_DATESTAMP), gps.get(_GPS_TIMESTAMP))
        for attr, key in (("direction", _GPS_DIRECTION), ("gps_error", _GPS_HERROR)):
            if key in gps:
                value = rational_to_float(gps[key])
                if math.isfinite(value):
                    setattr(tag, attr, value)


def read_geotags(paths: Sequence[Optional[str]],
                 on_progress: Callable[[float], None] = None,
                 should_stop: Callable[[], bool] = None) -> List[GeoTag]:
    """Metadata of each path, in order; one GeoTag per path whatever happens."""
    on_progress = on_progress or no_progress
    tags = []
    n = len(paths)
    step = max(1, n // 200)
    for i, path in enumerate(paths):
        if i % step == 0:
            check_stop(should_stop)
            on_progress(i / max(n, 1))
        tags.append(read_geotag(path))
    on_progress(1.0)
    return tags


# --- Orange tables -----------------------------------------------------------------------

def _epoch(moment: Optional[datetime], as_wall_clock=False) -> float:
    if moment is None:
        return math.nan
    if as_wall_clock:  # the camera's clock reading, shown as recorded
        moment = moment.replace(tzinfo=timezone.utc)
    elif moment.tzinfo is None:
        return math.nan
    return moment.timestamp()


def geotag_columns(tags: Sequence[GeoTag]):
    """``(attributes, metas)`` lists of ``(variable, values)`` for ``tables.append_columns``:
    latitude/longitude as visible attributes (Geo Map finds them), the rest as metas."""
    from Orange.data import ContinuousVariable, DiscreteVariable, StringVariable, TimeVariable

    def cont(name, values, decimals=None):
        var = ContinuousVariable(name, number_of_decimals=decimals)
        return var, np.array(values, dtype=float)

    def time(name, values):
        return TimeVariable(name, have_date=True, have_time=True), np.array(values, float)

    sources = [t.position_source for t in tags]
    source_var = DiscreteVariable(POSITION_SOURCE, values=POSITION_SOURCES)
    source_vals = np.array([POSITION_SOURCES.index(s) if s else np.nan for s in sources])
    attributes = [cont(LATITUDE, [t.latitude for t in tags], 6),
                  cont(LONGITUDE, [t.longitude for t in tags], 6)]
    metas = [
        cont(ALTITUDE, [t.altitude for t in tags], 1),
        time(TIME_TAKEN, [_epoch(t.time_taken, as_wall_clock=True) for t in tags]),
        time(TIME_UTC, [_epoch(t.time_utc) for t in tags]),
        time(GPS_TIME_UTC, [_epoch(t.gps_time_utc) for t in tags]),
        (StringVariable(MAKE), [t.make for t in tags]),
        (StringVariable(MODEL), [t.model for t in tags]),
        (StringVariable(LENS), [t.lens for t in tags]),
        cont(ORIENTATION, [t.orientation for t in tags], 0),
        cont(DIRECTION, [t.direction for t in tags], 1),
        cont(GPS_ERROR, [t.gps_error for t in tags], 1),
        cont(WIDTH, [t.width for t in tags], 0),
        cont(HEIGHT, [t.height for t in tags], 0),
        (source_var, source_vals),
        (StringVariable(ERROR), [t.error for t in tags]),
    ]
    return attributes, metas


def geotag_table(data, image_var=None, *, placement=None,
                 on_progress: Callable[[float], None] = None,
                 should_stop: Callable[[], bool] = None):
    """``data`` plus the geotag columns, every row kept (failed files: missing values and the
    reason in ``error``). ``placement`` (a :class:`track.Placement`) places photos without
    GPS from a track or neighbouring photos in time."""
    from orangecontrib.geophoto.tables import append_columns, find_image_column, image_paths
    image_var = image_var or find_image_column(data)
    if image_var is None:
        raise ValueError("the data has no column of image paths")
    tags = read_geotags(image_paths(data, image_var), on_progress, should_stop)
    if placement is not None:
        placement.apply(tags)
    attributes, metas = geotag_columns(tags)
    out = append_columns(data, attributes=attributes, metas=metas)
    out.name = data.name
    return out

