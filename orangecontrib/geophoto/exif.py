"""EXIF Geotag core: where, when and with what each photo was taken (no Qt).

Reads metadata only, never pixels: Pillow opens images lazily and parses just the headers
(JPEG APP1/SOF, TIFF IFDs, PNG/WebP chunks; HEIC/HEIF through pillow-heif). Values follow
exiftool's conventions (``exiftool -n``): decimal degrees on WGS 84, south and west negative,
metres with below-sea-level negative. A position is never invented: a coordinate that cannot
be decoded exactly is missing, and GPS 0/0 (what many cameras write without a fix) is no
position. A value that cannot be trusted is dropped alone, with a note in ``warning``.
"""
import math
import re
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
TIME_SOURCE = "time source"
WARNING = "warning"
POSITION_SOURCES = ("exif", "track", "neighbours")
# Where ``time taken`` came from, in the order tried: the MWG groups exiftool's composite
# tags follow (original, then digitized "CreateDate", then the edit time "ModifyDate"), EXIF
# before XMP within each group as exiftool's tag priority has it.
TIME_SOURCES = ("DateTimeOriginal", "XMP DateTimeOriginal", "XMP DateCreated", "CreateDate",
                "XMP CreateDate", "ModifyDate (edit time)", "XMP ModifyDate (edit time)")
NO_FIX_WARNING = "GPS 0/0 (camera had no fix), ignored"

# EXIF tag numbers (EXIF 2.32 / TIFF 6).
_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_ORIGINAL, _OFFSET_DIGITIZED, _OFFSET = 0x9011, 0x9012, 0x9010
_SUBSEC, _SUBSEC_ORIGINAL, _SUBSEC_DIGITIZED = 0x9290, 0x9291, 0x9292
_XMP_PACKET = 0x02BC
_LENS_MODEL, _LENS_MAKE = 0xA434, 0xA433
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_GPS_ALT_REF, _GPS_ALT, _GPS_TIMESTAMP = 5, 6, 7
_GPS_DIRECTION, _GPS_DATESTAMP, _GPS_HERROR = 17, 29, 31

# Large files are fine (only headers are read), but refuse absurd header sizes.
MAX_FILE_BYTES = 2 ** 32
MAX_XMP_BYTES = 4 * 2 ** 20

# XMP properties read for the time taken: {namespace}name, as ElementTree spells them.
_XMP_TIMES = {
    "XMP DateTimeOriginal": "{http://ns.adobe.com/exif/1.0/}DateTimeOriginal",
    "XMP DateCreated": "{http://ns.adobe.com/photoshop/1.0/}DateCreated",
    "XMP CreateDate": "{http://ns.adobe.com/xap/1.0/}CreateDate",
    "XMP ModifyDate (edit time)": "{http://ns.adobe.com/xap/1.0/}ModifyDate",
}
# Times beyond datetime's range (year 1, 9999) overflow when shifted; only they are dropped.
_OUT_OF_RANGE = (OverflowError, ValueError)


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
    time_source: str = ""   # which tag gave time_taken (one of TIME_SOURCES)
    warning: str = ""       # values dropped as untrustworthy, the row is otherwise fine

    @property
    def has_position(self) -> bool:
        return math.isfinite(self.latitude) and math.isfinite(self.longitude)

    def warn(self, text: str) -> None:
        self.warning = f"{self.warning}; {text}" if self.warning else text


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
    """An EXIF string, stripped of NULs and spaces; "" for non-text. Read as exiftool reads
    it: UTF-8 when the bytes are valid UTF-8, else Latin-1 (Pillow hands ASCII-typed values
    over decoded as Latin-1, which turns UTF-8 into mojibake, so they are re-decoded)."""
    if isinstance(value, str):
        try:
            value = value.encode("latin-1")
        except UnicodeEncodeError:
            return value.split("\x00", 1)[0].strip()
    if not isinstance(value, bytes):
        return ""
    value = value.split(b"\x00", 1)[0]
    try:
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        return value.decode("latin-1").strip()


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
    digits = "".join(c for c in _text(subsec) if c in "0123456789")[:9]  # to nanoseconds
    if digits:
        try:
            moment += timedelta(seconds=int(digits) / 10 ** len(digits))
        except OverflowError:  # 9999-12-31 23:59:59.5: the whole second is kept
            pass
    tz = parse_offset(offset)
    return moment.replace(tzinfo=tz) if tz else moment


_XMP_DATE = re.compile(r"(\d{4})[-:](\d\d)[-:](\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?"
                       r"\s*(Z|[+-]\d\d:?\d\d)?")


def parse_xmp_datetime(text) -> Optional[datetime]:
    """An XMP date (ISO 8601: ``2019-05-18T09:29:59.25+02:00``, ``Z``, seconds optional);
    None for a date without a time of day, which cannot say when a photo was taken."""
    match = _XMP_DATE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    date, hour, minute, second, frac, zone = (match.groups()[:3], match[4], match[5],
                                              match[6] or "00", match[7], match[8])
    moment = parse_exif_datetime(f"{':'.join(date)} {hour}:{minute}:{second}", frac,
                                 "+00:00" if zone == "Z" else zone)
    if moment is not None and zone and moment.tzinfo is None:
        return None  # an offset that is no offset (+25:00): not a time we can place
    return moment


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
    """UTC from the GPS date and time stamps; None when absent or impossible; raises
    OverflowError when they lie beyond datetime's range."""
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
    time zone at the photo's coordinates (timezonefinder, offline); None otherwise, and
    None when the result lies beyond datetime's range (a clock reading of year 1 or 9999)."""
    try:
        return _local_to_utc(moment, latitude, longitude)
    except _OUT_OF_RANGE:
        return None


def _local_to_utc(moment, latitude, longitude) -> Optional[datetime]:
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
            try:
                _decode_exif(tag, exif, _xmp_of(im, exif))
            finally:  # a position read before a later failure is still marked as EXIF's
                if tag.has_position:
                    tag.position_source = "exif"
    try:
        tag.time_utc = _local_to_utc(tag.time_taken, tag.latitude, tag.longitude)
    except _OUT_OF_RANGE:
        tag.warn("time taken out of range for UTC, time (UTC) left empty")


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


def _xmp_of(im, exif) -> bytes:
    """The XMP packet as Pillow finds it: JPEG/WebP/HEIF ``info["xmp"]``, PNG's iTXt chunk,
    TIFF's tag 700; b"" when there is none."""
    raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or exif.get(_XMP_PACKET)
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    return raw if isinstance(raw, bytes) else b""


def xmp_times(raw: bytes) -> dict:
    """The date properties of an XMP packet that can give the time taken, keyed by their
    ``TIME_SOURCES`` name; whether written as attributes or as elements. {} when the packet
    is absent, too large or not XML (the EXIF values still count)."""
    if not raw or len(raw) > MAX_XMP_BYTES:
        return {}
    from xml.etree import ElementTree
    try:  # expat (>= 2.4) limits entity expansion: no billion laughs
        root = ElementTree.fromstring(raw.strip(b"\x00 \t\r\n"))
    except (ElementTree.ParseError, ValueError):
        return {}
    wanted = {key: name for name, key in _XMP_TIMES.items()}
    found = {}
    for element in root.iter():
        for key, value in [(element.tag, element.text), *element.attrib.items()]:
            if key in wanted and isinstance(value, str) and value.strip():
                found.setdefault(wanted[key], value.strip())
    return found


def _time_taken(sub: dict, base: dict, xmp_packet: bytes):
    """(time taken, its TIME_SOURCES name) from the first source that holds a valid time;
    (None, "") when none does. The XMP packet is parsed only when EXIF has no original time
    (most camera photos), which keeps reading fast."""
    xmp = None
    exif_times = {
        "DateTimeOriginal": (sub.get(_DATETIME_ORIGINAL), sub.get(_SUBSEC_ORIGINAL),
                             sub.get(_OFFSET_ORIGINAL)),
        "CreateDate": (sub.get(_DATETIME_DIGITIZED), sub.get(_SUBSEC_DIGITIZED),
                       sub.get(_OFFSET_DIGITIZED)),
        "ModifyDate (edit time)": (base.get(_DATETIME), sub.get(_SUBSEC), sub.get(_OFFSET)),
    }
    for source in TIME_SOURCES:
        if source in exif_times:
            moment = parse_exif_datetime(*exif_times[source])
        else:
            xmp = xmp_times(xmp_packet) if xmp is None else xmp
            moment = parse_xmp_datetime(xmp.get(source))
        if moment is not None:
            return moment, source
    return None, ""


def _ifd(exif, tag_id) -> dict:
    try:
        return dict(exif.get_ifd(tag_id))
    except Exception:  # pylint: disable=broad-except
        return {}


def _decode_exif(tag: GeoTag, exif, xmp: bytes = b"") -> None:
    base = dict(exif)
    sub = _ifd(exif, _EXIF_IFD)
    gps = _ifd(exif, _GPS_IFD)

    tag.make = _text(base.get(_MAKE))
    tag.model = _text(base.get(_MODEL))
    tag.lens = _text(sub.get(_LENS_MODEL))
    orientation = base.get(_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        tag.orientation = float(orientation)

    tag.time_taken, tag.time_source = _time_taken(sub, base, xmp)

    if gps:
        lat = dms_to_degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), ("S",))
        lon = dms_to_degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), ("W",))
        if lat == 0 and lon == 0:
            tag.warn(NO_FIX_WARNING)
        elif math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180:
            tag.latitude, tag.longitude = lat, lon
        if _GPS_ALT in gps:
            alt = rational_to_float(gps[_GPS_ALT])
            ref = gps.get(_GPS_ALT_REF)
            if isinstance(ref, bytes):
                ref = ref[0] if ref else 0
            if math.isfinite(alt):
                tag.altitude = -alt if ref == 1 else alt
        try:
            tag.gps_time_utc = _gps_datetime(gps.get(_GPS_DATESTAMP),
                                             gps.get(_GPS_TIMESTAMP))
        except _OUT_OF_RANGE:
            tag.warn("GPS date/time stamp out of range, ignored")
        for attr, key in (("direction", _GPS_DIRECTION), ("gps_error", _GPS_HERROR)):
            if key in gps:
                value = rational_to_float(gps[key])
                if math.isfinite(value):
                    setattr(tag, attr, value)


def read_geotags(paths: Sequence[Optional[str]],
                 on_progress: Callable[[float], None] = None,
                 should_stop: Callable[[], bool] = None, client=None) -> List[GeoTag]:
    """Metadata of each path, in order; one GeoTag per path whatever happens.
    ``client``: a ``dask.distributed.Client`` whose workers read partitions of the paths."""
    if client is not None:
        from orangecontrib.geophoto import cluster
        return cluster.read_geotags(client, paths, on_progress=on_progress)
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
    try:
        return moment.timestamp()
    except _OUT_OF_RANGE:
        return math.nan


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
    time_var = DiscreteVariable(TIME_SOURCE, values=TIME_SOURCES)
    time_vals = np.array([TIME_SOURCES.index(t.time_source) if t.time_source else np.nan
                          for t in tags])
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
        # added later: appended so that consumers of the columns above see them unchanged
        (time_var, time_vals),
        (StringVariable(WARNING), [t.warning for t in tags]),
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

