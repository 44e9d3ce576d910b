"""Write geotags back: positions into XMP sidecars, copies or the photos themselves (no Qt).

Positions placed by a GPS track or neighbouring photos (EXIF Geotag) or predicted by the Geo
Classifier are written with exiv2 (python-exiv2, the library digiKam and darktable use), so
every photo tool reads them. What is written, all standard EXIF 2.32 / XMP ``exif:`` tags:
latitude, longitude, altitude, the GPS date and time stamp (UTC), the map datum (WGS-84),
``GPSHPositioningError`` from the uncertainty radius, and ``GPSProcessingMethod`` naming the
source (``geophoto: track`` / ``geophoto: neighbours`` / ``geophoto: predicted by MODEL``).
The same facts, machine-readable, go into XMP under geophoto's own namespace (``NAMESPACE``,
prefix ``geophoto``): ``PositionSource``, ``UncertaintyRadius`` (metres, 68%), ``Model``.

Three modes: ``sidecar`` (``photo.jpg.xmp`` beside the photo, as darktable and digiKam name
them, or ``photo.xmp`` as Lightroom does; the photo is never opened for writing), ``copy``
(into ``out_dir``: the photo's bytes with metadata added, image data unchanged) and
``inplace`` (after a backup ``photo.jpg_original``, as exiftool names it).

Every file is written atomically: the metadata go into a temporary copy in the target's
folder, which is synced and then renamed over the target, so an error, a full disk or a
signal leaves the old file (and no half-written one). An existing GPS position is never
replaced unless ``overwrite``; a predicted position is written only when its uncertainty
radius is known and within ``max_radius_m``.
"""
import math
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from orangecontrib.geophoto.progress import check_stop, no_progress

MODES = ("sidecar", "copy", "inplace")
SIDECAR_STYLES = ("photo.jpg.xmp", "photo.xmp")
NAMESPACE = "http://ns.orange3-geophoto.org/xmp/1.0/"
PREFIX = "geophoto"
BACKUP_SUFFIX = "_original"

# Row outcomes, the values of the "write status" column.
WRITTEN = "written"
TAGGED = "skipped: already tagged"
UNCERTAIN = "skipped: too uncertain"
UNSUPPORTED = "unsupported format"
FAILED = "failed"
UNLOCATED = "no position"
DRY_RUN = "would write (dry run)"
STATUSES = (WRITTEN, TAGGED, UNCERTAIN, UNSUPPORTED, FAILED, UNLOCATED, DRY_RUN)

# Output columns
STATUS_COLUMN = "write status"
TARGET_COLUMN = "written to"
REASON_COLUMN = "write reason"

# Sources of a position (EXIF Geotag's ``position source`` plus ours).
PREDICTED = "predicted"
FROM_TABLE = "table"  # true coordinates of a table without a ``position source`` column


@dataclass
class WriteOptions:
    mode: str = "sidecar"                 # sidecar | copy | inplace
    out_dir: Optional[str] = None         # required for copy
    max_radius_m: Optional[float] = None  # predicted/placed positions above this are skipped
    overwrite: bool = False               # replace an existing GPS position
    dry_run: bool = False
    backup: bool = True                   # inplace only: photo.jpg -> photo.jpg_original
    keep_mtime: bool = True
    sidecar_style: str = "photo.jpg.xmp"  # or "photo.xmp" (Lightroom's name)
    model: str = ""                       # named in the source of predicted positions

    def check(self) -> None:
        """A ValueError of one line for options that cannot work."""
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.mode == "copy" and not self.out_dir:
            raise ValueError("mode copy needs an output folder")
        if self.sidecar_style not in SIDECAR_STYLES:
            raise ValueError(f"unknown sidecar name {self.sidecar_style!r}; "
                             f"use one of {', '.join(SIDECAR_STYLES)}")
        if self.max_radius_m is not None and not self.max_radius_m >= 0:
            raise ValueError("the maximum radius must be a number of metres >= 0")


@dataclass
class GeotagRow:
    """What to write for one photo; NaN/None where unknown."""
    path: Optional[str]
    latitude: float = math.nan
    longitude: float = math.nan
    altitude: float = math.nan
    time_utc: Optional[datetime] = None
    source: str = ""                  # exif | track | neighbours | predicted | table
    uncertainty_m: float = math.nan   # radius (m) of a placed or predicted position

    @property
    def has_position(self) -> bool:
        return (math.isfinite(self.latitude) and math.isfinite(self.longitude)
                and abs(self.latitude) <= 90 and abs(self.longitude) <= 180)


@dataclass
class WriteResult:
    path: Optional[str]
    status: str                 # one of STATUSES
    target: str = ""            # the sidecar, copy or photo written (or that would be)
    reason: str = ""            # why a row was skipped or failed


@dataclass
class WriteSummary:
    written: int = 0
    skipped_tagged: int = 0
    skipped_uncertain: int = 0
    unsupported: int = 0
    failed: int = 0
    unlocated: int = 0
    dry_run: bool = False

    @classmethod
    def of(cls, results: Sequence[WriteResult], dry_run: bool = False) -> "WriteSummary":
        count = {s: 0 for s in STATUSES}
        for r in results:
            count[r.status] += 1
        return cls(count[WRITTEN] + count[DRY_RUN], count[TAGGED], count[UNCERTAIN],
                   count[UNSUPPORTED], count[FAILED], count[UNLOCATED], dry_run)

    def counts_text(self) -> str:
        """``8 written, 1 already tagged, 2 too uncertain, ...`` (zero counts left out)."""
        parts = [f"{self.written} {'would be written' if self.dry_run else 'written'}"]
        for n, text in ((self.skipped_tagged, "already tagged"),
                        (self.skipped_uncertain, "too uncertain"),
                        (self.unsupported, "unsupported format"),
                        (self.failed, "failed"),
                        (self.unlocated, "without a position")):
            if n:
                parts.append(f"{n} {text}")
        return ", ".join(parts)


# --- exiv2 ----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _exiv2():
    """python-exiv2, quiet (problems come back as exceptions, reported on the row), with
    geophoto's XMP namespace registered."""
    import exiv2
    exiv2.LogMsg.setLevel(exiv2.LogMsg.Level.mute)
    exiv2.XmpProperties.registerNs(NAMESPACE, PREFIX)
    return exiv2


class Unsupported(Exception):
    """exiv2 cannot write metadata into this file's format."""


def _open(source, writing: bool, name: str = ""):
    """The exiv2 image of a file (a path: only its headers are read) or of its bytes, its
    metadata read. ``Unsupported`` for a format exiv2 does not know (or cannot write, when
    ``writing``)."""
    exiv2 = _exiv2()
    if isinstance(source, str):  # absolute: exiv2 must never take a name for a URL
        source = os.path.abspath(source)
    try:
        kind = exiv2.ImageFactory.getType(source)
    except exiv2.Exiv2Error:  # a file too short for any format's signature
        kind = exiv2.ImageType.none
    if kind == exiv2.ImageType.none:
        raise Unsupported("not an image format exiv2 knows")
    if writing and any(exiv2.ImageFactory.checkMode(kind, md) != exiv2.AccessMode.amReadWrite
                       for md in (exiv2.MetadataId.Exif, exiv2.MetadataId.Xmp)):
        raise Unsupported("exiv2 cannot write metadata into "
                          f"{_format_name(name or source, kind)} files")
    image = exiv2.ImageFactory.open(source)
    image.readMetadata()
    return image


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _format_name(path: str, kind) -> str:
    exiv2 = _exiv2()
    for name in ("bmff", "gif", "bmp", "jp2", "psd", "tga", "crw", "mrw", "raf", "eps"):
        if getattr(exiv2.ImageType, name, None) == kind:
            return {"bmff": "HEIC/AVIF"}.get(name, name.upper())
    return os.path.splitext(path)[1].lstrip(".").upper() or "such"


_GPS_KEYS = ("Exif.GPSInfo.GPSLatitude", "Exif.GPSInfo.GPSLongitude",
             "Xmp.exif.GPSLatitude", "Xmp.exif.GPSLongitude")


def _gps_values(image) -> dict:
    found = {}
    for data in (image.exifData(), image.xmpData()):
        for datum in data:
            if datum.key() in _GPS_KEYS:
                found[datum.key()] = datum.toString()
    return found


def _has_gps(image) -> bool:
    """Whether the metadata hold a position; GPS 0/0, which cameras write without a fix
    (and EXIF Geotag ignores), is none."""
    return any(not _is_zero(text) for text in _gps_values(image).values())


def _is_zero(text: str) -> bool:
    """``0/1 0/1 0/1`` (EXIF) or ``0,0.0N`` (XMP)."""
    try:
        if "/" in text:
            return all(int(part.split("/")[0]) == 0 for part in text.split())
        return all(float(part) == 0 for part in text.rstrip("NSEWnsew").split(","))
    except ValueError:
        return False


def _must_clear(image, options: WriteOptions) -> bool:
    """Old GPS tags go when a position is overwritten, or when they hold only 0/0."""
    return options.overwrite or bool(_gps_values(image))


def _clear_gps(image) -> None:
    """Remove every GPS tag (and ours), so that an overwritten position leaves no stale
    speed or direction of the old one."""
    for data, stale in ((image.exifData(), ("Exif.GPSInfo.", "Exif.Image.GPSTag")),
                        (image.xmpData(), ("Xmp.exif.GPS", f"Xmp.{PREFIX}."))):
        for key in [d.key() for d in data if d.key().startswith(stale)]:
            del data[key]


# --- values -------------------------------------------------------------------------------

def _dms_rational(value: float) -> str:
    """Degrees as EXIF's three rationals, seconds to the micro-second of arc (3e-10 deg)."""
    total = round(abs(value) * 3600 * 10 ** 6)
    degrees, rest = divmod(total, 3600 * 10 ** 6)
    minutes, micro = divmod(rest, 60 * 10 ** 6)
    return f"{degrees}/1 {minutes}/1 {micro}/1000000"


def _xmp_coordinate(value: float, refs: str) -> str:
    """XMP's GPSCoordinate ``DDD,MM.mmmmmmmmR``: minutes to 1e-8 (2e-10 deg)."""
    total = round(abs(value) * 60 * 10 ** 8)
    degrees, rest = divmod(total, 60 * 10 ** 8)
    ref = refs[1] if value < 0 else refs[0]
    return f"{degrees},{rest // 10 ** 8}.{rest % 10 ** 8:08d}{ref}"


def _rational(value: float, denominator: int = 1000) -> str:
    return f"{round(abs(value) * denominator)}/{denominator}"


def _source_text(row: GeotagRow, options: WriteOptions) -> str:
    if row.source == PREDICTED:
        return f"geophoto: predicted by {options.model}" if options.model \
            else "geophoto: predicted"
    if row.source == FROM_TABLE:
        return "geophoto: from a table"
    return f"geophoto: {row.source}"


def _utc(row: GeotagRow) -> Optional[datetime]:
    if row.time_utc is None:
        return None
    moment = row.time_utc
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)) \
        .astimezone(timezone.utc)


def _set_exif(exif, row: GeotagRow, options: WriteOptions) -> None:
    """The standard EXIF GPS tags (what cameras write and every tool reads)."""
    exif["Exif.GPSInfo.GPSVersionID"] = "2 3 0 0"
    exif["Exif.GPSInfo.GPSLatitudeRef"] = "S" if row.latitude < 0 else "N"
    exif["Exif.GPSInfo.GPSLatitude"] = _dms_rational(row.latitude)
    exif["Exif.GPSInfo.GPSLongitudeRef"] = "W" if row.longitude < 0 else "E"
    exif["Exif.GPSInfo.GPSLongitude"] = _dms_rational(row.longitude)
    if math.isfinite(row.altitude):
        exif["Exif.GPSInfo.GPSAltitudeRef"] = "1" if row.altitude < 0 else "0"
        exif["Exif.GPSInfo.GPSAltitude"] = _rational(row.altitude)
    moment = _utc(row)
    if moment is not None:
        seconds = moment.second + moment.microsecond / 1e6
        exif["Exif.GPSInfo.GPSTimeStamp"] = \
            f"{moment.hour}/1 {moment.minute}/1 {_rational(seconds)}"
        exif["Exif.GPSInfo.GPSDateStamp"] = moment.strftime("%Y:%m:%d")
    exif["Exif.GPSInfo.GPSMapDatum"] = "WGS-84"
    if row.source != "exif":
        exif["Exif.GPSInfo.GPSProcessingMethod"] = \
            "charset=Ascii " + _source_text(row, options)
    if math.isfinite(row.uncertainty_m):
        exif["Exif.GPSInfo.GPSHPositioningError"] = _rational(row.uncertainty_m)


def _set_xmp_gps(xmp, row: GeotagRow, options: WriteOptions) -> None:
    """The same tags in XMP's ``exif:`` namespace, for sidecars."""
    xmp["Xmp.exif.GPSVersionID"] = "2.3.0.0"
    xmp["Xmp.exif.GPSLatitude"] = _xmp_coordinate(row.latitude, "NS")
    xmp["Xmp.exif.GPSLongitude"] = _xmp_coordinate(row.longitude, "EW")
    if math.isfinite(row.altitude):
        xmp["Xmp.exif.GPSAltitudeRef"] = "1" if row.altitude < 0 else "0"
        xmp["Xmp.exif.GPSAltitude"] = _rational(row.altitude)
    moment = _utc(row)
    if moment is not None:
        xmp["Xmp.exif.GPSTimeStamp"] = moment.strftime("%Y-%m-%dT%H:%M:%S") + (
            f".{moment.microsecond // 1000:03d}Z" if moment.microsecond else "Z")
    xmp["Xmp.exif.GPSMapDatum"] = "WGS-84"
    xmp["Xmp.exif.GPSProcessingMethod"] = _source_text(row, options)
    if math.isfinite(row.uncertainty_m):
        xmp["Xmp.exif.GPSHPositioningError"] = _rational(row.uncertainty_m)


def _set_xmp_source(xmp, row: GeotagRow, options: WriteOptions) -> None:
    """geophoto's namespace: the source, radius and model, for programs to read."""
    xmp[f"Xmp.{PREFIX}.PositionSource"] = row.source
    if math.isfinite(row.uncertainty_m):
        xmp[f"Xmp.{PREFIX}.UncertaintyRadius"] = f"{row.uncertainty_m:.1f}"
    if row.source == PREDICTED and options.model:
        xmp[f"Xmp.{PREFIX}.Model"] = options.model


# --- one photo ----------------------------------------------------------------------------

def sidecar_path(path: str, style: str = "photo.jpg.xmp") -> str:
    if style == "photo.xmp":
        return os.path.splitext(path)[0] + ".xmp"
    return path + ".xmp"


def target_path(path: str, options: WriteOptions) -> str:
    """Where a row's metadata go."""
    if options.mode == "sidecar":
        return sidecar_path(path, options.sidecar_style)
    if options.mode == "copy":
        return os.path.join(options.out_dir, os.path.basename(path))
    return path


def _precheck(row: GeotagRow, options: WriteOptions) -> Optional[WriteResult]:
    """The outcome decided from the row alone, or None when the file must be looked at."""
    from orangecontrib.geophoto.images import kind_problem
    from orangecontrib.geophoto.tables import is_url
    if not row.has_position:
        return WriteResult(row.path, UNLOCATED)
    if row.source == "exif" and not options.overwrite:
        return WriteResult(row.path, TAGGED, reason="the position came from the photo")
    if not row.path:
        return WriteResult(row.path, FAILED, reason="no file name")
    if is_url(row.path):
        return WriteResult(row.path, FAILED, reason="URLs are not written; only local files")
    radius = options.max_radius_m
    if row.source == PREDICTED:
        if radius is None:
            return WriteResult(row.path, UNCERTAIN,
                               reason="predicted: set a maximum radius to write predictions")
        if not row.uncertainty_m <= radius:  # NaN (unknown) is too uncertain too
            return WriteResult(row.path, UNCERTAIN, reason=_radius_text(row, radius))
    elif radius is not None and math.isfinite(row.uncertainty_m) \
            and row.uncertainty_m > radius:
        return WriteResult(row.path, UNCERTAIN, reason=_radius_text(row, radius))
    try:
        problem = kind_problem(os.stat(row.path).st_mode)
    except OSError as ex:
        return WriteResult(row.path, FAILED, reason=_os_reason(ex))
    if problem:
        return WriteResult(row.path, FAILED, reason=problem)
    return None


def _radius_text(row: GeotagRow, radius: float) -> str:
    if not math.isfinite(row.uncertainty_m):
        return "uncertainty unknown"
    return f"uncertainty {row.uncertainty_m:.0f} m > {radius:g} m"


def _os_reason(ex: OSError) -> str:
    import errno
    if ex.errno == errno.ENOSPC:
        return "disk full"
    if ex.errno == errno.EROFS:
        return "read-only file system"
    if isinstance(ex, PermissionError):
        return "permission denied"
    if isinstance(ex, FileNotFoundError):
        return "file not found"
    return (ex.strerror or str(ex)).lower()


def _exiv2_reason(ex: Exception) -> str:
    text = str(ex.args[1] if len(ex.args) > 1 else ex)
    lowered = text.lower()
    if "no space" in lowered:
        return "disk full"
    if "permission denied" in lowered:
        return "permission denied"
    return "exiv2: " + text.splitlines()[0][:200] if text else "exiv2 failed"


def write_geotag(row: GeotagRow, options: WriteOptions) -> WriteResult:
    """Write one row. Never raises for a problem of this file (the result says it); a
    signal or cancellation unwinds, leaving no temporary file."""
    early = _precheck(row, options)
    if early is not None:
        return early
    target = target_path(row.path, options)
    try:
        return _write(row, options, target)
    except Unsupported as ex:
        return WriteResult(row.path, UNSUPPORTED, reason=str(ex))
    except OSError as ex:
        return WriteResult(row.path, FAILED, reason=_os_reason(ex))
    except _exiv2().Exiv2Error as ex:
        return WriteResult(row.path, FAILED, reason=_exiv2_reason(ex))


def _write(row: GeotagRow, options: WriteOptions, target: str) -> WriteResult:
    if options.mode == "sidecar":
        return _write_sidecar(row, options, target)
    if options.mode == "inplace" and not os.access(row.path, os.W_OK):
        return WriteResult(row.path, FAILED, reason="read-only file")
    if options.mode == "copy" and os.path.lexists(target):
        return WriteResult(row.path, FAILED, target,
                           f"{os.path.basename(target)} already exists in the output folder")
    data = _read_bytes(row.path)
    image = _open(data, writing=True, name=row.path)
    if _has_gps(image) and not options.overwrite:
        return WriteResult(row.path, TAGGED, reason="the photo has a GPS position")
    if options.dry_run:
        return WriteResult(row.path, DRY_RUN, target)
    if _must_clear(image, options):
        _clear_gps(image)
    _set_exif(image.exifData(), row, options)
    _set_xmp_source(image.xmpData(), row, options)
    _commit(image, row, options, target)
    return WriteResult(row.path, WRITTEN, target)


def _write_sidecar(row: GeotagRow, options: WriteOptions, target: str) -> WriteResult:
    """Only the photo's headers are read; a sidecar there already keeps what it holds
    (darktable's edits, digiKam's tags) and gets the position added."""
    if _has_gps(_open(row.path, writing=False)) and not options.overwrite:
        return WriteResult(row.path, TAGGED, reason="the photo has a GPS position")
    if os.path.lexists(target):
        data = _read_bytes(target)
        try:
            image = _open(data, writing=True, name=target)
        except Unsupported:
            return WriteResult(row.path, FAILED, target,
                               f"{os.path.basename(target)} is there and is not XMP")
        if _has_gps(image) and not options.overwrite:
            return WriteResult(row.path, TAGGED, target, "its sidecar has a GPS position")
    else:
        image = _exiv2().ImageFactory.create(_exiv2().ImageType.xmp)
    if options.dry_run:
        return WriteResult(row.path, DRY_RUN, target)
    if _must_clear(image, options):
        _clear_gps(image)
    _set_xmp_gps(image.xmpData(), row, options)
    _set_xmp_source(image.xmpData(), row, options)
    _commit(image, row, options, target)
    return WriteResult(row.path, WRITTEN, target)


def _commit(image, row: GeotagRow, options: WriteOptions, target: str) -> None:
    """The image's metadata written in memory (exiv2 copies the image data unchanged),
    then to a temporary file in the target's folder, synced, and renamed onto ``target``;
    for ``inplace``, after the backup."""
    from orangecontrib.geophoto.tables import atomic_path
    image.writeMetadata()
    backup = None
    try:
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as f, image.io().mmap() as data:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if options.mode != "sidecar" and options.keep_mtime:
                st = os.stat(row.path)
                os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            if options.mode == "inplace" and options.backup:
                backup = _backup(row.path)
    except BaseException:
        # the photo was not replaced (it is still the backup's file): no stray backup
        if backup and os.path.samefile(backup, row.path):
            os.remove(backup)
        raise


def _backup(path: str) -> Optional[str]:
    """Keep the original as ``photo.jpg_original``, as exiftool names it: a hard link, so
    its very bytes and times, made in an instant (a copy where the file system has no hard
    links). An existing backup, the older original, is kept as exiftool keeps it. Returns
    the backup's path when it is a link made now."""
    from orangecontrib.geophoto.tables import atomic_path
    backup = path + BACKUP_SUFFIX
    if os.path.lexists(backup):
        return None
    try:
        os.link(path, backup)
        return backup
    except OSError:  # FAT, some network shares
        with atomic_path(backup) as copy:
            shutil.copy2(path, copy)
        return None


# --- many photos ----------------------------------------------------------------------------

def write_geotags(rows: Sequence[GeotagRow], options: WriteOptions,
                  on_progress: Callable[[float], None] = None,
                  should_stop: Callable[[], bool] = None) -> List[WriteResult]:
    """One WriteResult per row, in order. The output folder of ``copy`` is made first."""
    options.check()
    try:
        _exiv2()
    except ImportError as ex:
        raise ValueError("writing geotags needs python-exiv2: pip install exiv2") from ex
    on_progress = on_progress or no_progress
    if options.mode == "copy" and not options.dry_run:
        os.makedirs(options.out_dir, exist_ok=True)
    results = []
    n = len(rows)
    for i, row in enumerate(rows):
        check_stop(should_stop)
        on_progress(i / max(n, 1))
        results.append(write_geotag(row, options))
    on_progress(1.0)
    return results


def rows_from_table(data) -> List[GeotagRow]:
    """What to write for each row of a table: the true ``latitude``/``longitude`` (with
    ``position source`` from EXIF Geotag) where present, else the Geo Classifier's
    ``latitude (predicted)``/``longitude (predicted)`` with ``uncertainty (m)``; altitude
    and ``time (UTC)`` when present."""
    from orangecontrib.geophoto.exif import ALTITUDE, POSITION_SOURCE, TIME_UTC
    from orangecontrib.geophoto.export.table import (
        LAT_PRED, LON_PRED, UNCERTAINTY, column, columns_by_name,
    )
    from orangecontrib.geophoto.tables import find_image_column, image_paths
    image_var = find_image_column(data)
    if image_var is None:
        raise ValueError("the data has no column of image paths")
    n = len(data)
    columns = columns_by_name(data)
    nan = np.full(n, np.nan)

    def values(name):
        found = column(data, name)
        return nan if found is None else found

    lat, lon = values("latitude"), values("longitude")
    plat, plon = values(LAT_PRED), values(LON_PRED)
    if "latitude" not in columns and LAT_PRED not in columns:
        raise ValueError("the data has neither latitude/longitude nor predicted positions")
    source_var = columns.get(POSITION_SOURCE)
    sources = [FROM_TABLE] * n
    if source_var is not None and source_var.is_discrete:
        sources = [source_var.values[int(v)] if v == v else FROM_TABLE
                   for v in data.get_column(source_var).astype(float)]
    radius, altitude, times = values(UNCERTAINTY), values(ALTITUDE), values(TIME_UTC)
    rows = []
    for i, path in enumerate(image_paths(data, image_var)):
        row = GeotagRow(path, altitude=float(altitude[i]), uncertainty_m=float(radius[i]))
        if math.isfinite(lat[i]) and math.isfinite(lon[i]):
            row.latitude, row.longitude, row.source = float(lat[i]), float(lon[i]), sources[i]
        elif math.isfinite(plat[i]) and math.isfinite(plon[i]):
            row.latitude, row.longitude, row.source = float(plat[i]), float(plon[i]), PREDICTED
        if math.isfinite(times[i]):
            row.time_utc = datetime.fromtimestamp(float(times[i]), timezone.utc)
        rows.append(row)
    return rows


def results_columns(results: Sequence[WriteResult]):
    """Metas ``(variable, values)`` for ``tables.append_columns``."""
    from Orange.data import DiscreteVariable, StringVariable
    status = DiscreteVariable(STATUS_COLUMN, values=STATUSES)
    return [(status, np.array([STATUSES.index(r.status) for r in results], dtype=float)),
            (StringVariable(TARGET_COLUMN), [r.target for r in results]),
            (StringVariable(REASON_COLUMN), [r.reason for r in results])]


def write_geotags_table(data, options: WriteOptions,
                        on_progress: Callable[[float], None] = None,
                        should_stop: Callable[[], bool] = None) -> Tuple[object, WriteSummary]:
    """``data`` (every row kept) plus ``write status``, ``written to`` and ``write reason``,
    and the counts."""
    from orangecontrib.geophoto.tables import append_columns
    options.check()
    results = write_geotags(rows_from_table(data), options, on_progress, should_stop)
    out = append_columns(data, metas=results_columns(results))
    out.name = data.name
    return out, WriteSummary.of(results, options.dry_run)
