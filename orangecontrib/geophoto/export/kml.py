"""Google Earth KML/KMZ: named placemarks with thumbnail balloons, folders with their own
icon colours, time stamps, a time-ordered line and uncertainty circles.

The document is streamed: placemarks are written a chunk of rows at a time into the
temporary file beside the target (into ``doc.kml`` inside the KMZ), so a million rows
need no more memory than a few thousand. It is written as valid OGC KML 2.2 directly
(styles first in the document, then folders of placemarks, then the time line), every
text escaped by ``text``: a label, place or file name can never become markup.
"""
import errno
import html
import math
import os
import re
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Dict, Optional

import numpy as np

from orangecontrib.geophoto.export.options import ExportOptions, ExportSummary
from orangecontrib.geophoto.export.privacy import exported_positions
from orangecontrib.geophoto.export.table import (
    UNCERTAINTY, balloon_columns, check_template, column, column_cells, group_keys, iso,
    placemark_names, utc_times,
)
from orangecontrib.geophoto.images import ImageError, open_image, read_bytes
from orangecontrib.geophoto.progress import check_stop, no_progress, scaled
from orangecontrib.geophoto.tables import (
    atomic_path, find_image_column, image_paths, is_url, printable,
)

KML_EXTENSIONS = (".kml", ".kmz")
KML_NS = "http://www.opengis.net/kml/2.2"
EARTH_RADIUS_M = 6371008.8
# distinct, colour-blind-friendly icon colours (Okabe-Ito), as #rrggbb
PALETTE = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
           "#999999", "#000000", "#ffffff")
ICON = "http://maps.google.com/mapfiles/kml/paddle/wht-blank.png"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
CHUNK = 2000  # placemarks made and written at a time
# a full disk (or quota, or file size limit) is an error, never "a photo we could not read"
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def text(value: str) -> str:
    """Literal text for an XML element: escaped, without characters XML cannot hold, and
    file-name bytes that are not UTF-8 shown as ``\\xe9``."""
    return html.escape(_NOT_XML.sub("", printable(str(value))), quote=True)


def circle(lat: float, lon: float, radius_m: float, points: int = 48):
    """(lon, lat) ring of a circle on the sphere, for uncertainty polygons."""
    d = radius_m / EARTH_RADIUS_M
    la, lo = math.radians(lat), math.radians(lon)
    ring = []
    for k in range(points + 1):
        bearing = 2 * math.pi * (k % points) / points
        la2 = math.asin(math.sin(la) * math.cos(d)
                        + math.cos(la) * math.sin(d) * math.cos(bearing))
        lo2 = lo + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(la),
                              math.cos(d) - math.sin(la) * math.sin(la2))
        ring.append(((math.degrees(lo2) + 180) % 360 - 180, math.degrees(la2)))
    return ring


def balloon_html(cells: Dict[str, list], row: int, image_src: Optional[str],
                 size: int) -> str:
    """A thumbnail and a table of the chosen columns that have a value in this row;
    every value HTML-escaped."""
    parts = []
    if image_src:
        parts.append(f'<img src="{html.escape(image_src, quote=True)}" '
                     f'style="max-width:{size}px;max-height:{size}px"/><br/>')
    rows = "".join(f"<tr><th align='left'>{html.escape(name)}</th>"
                   f"<td>{html.escape(values[row])}</td></tr>"
                   for name, values in cells.items() if values[row])
    parts.append(f"<table>{rows}</table>")
    return "".join(parts)


# --- thumbnails --------------------------------------------------------------------------

def make_thumbnail(path: str, target: str, size: int) -> Optional[str]:
    """A JPEG of at most ``size`` px a side, EXIF-rotated and without the photo's metadata
    (no GPS in the archive); None when the photo cannot be read, is cut off (no half-grey
    thumbnail) or is not a regular file."""
    from PIL import Image, ImageOps
    try:
        with open_image(read_bytes(path)) as im:
            im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((size, size), Image.Resampling.LANCZOS)
            im.save(target, "JPEG", quality=85)
            return target
    except (ImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as ex:
        if isinstance(ex, OSError) and ex.errno in NO_SPACE:
            raise  # the disk is full: not the photo's fault
        return None


def make_thumbnails(photos: Dict[int, str], folder: str, size: int, on_progress=None,
                    should_stop=None) -> Dict[int, str]:
    """Row -> thumbnail file, made on a few threads (Pillow decodes without the GIL)."""
    on_progress = on_progress or no_progress
    rows = list(photos)
    workers = max(1, min(8, os.cpu_count() or 1))
    done: Dict[int, str] = {}
    chunk = workers * 8
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(rows), chunk):
            check_stop(should_stop)
            part = rows[start:start + chunk]
            made = pool.map(lambda r: make_thumbnail(
                photos[r], os.path.join(folder, f"photo{r:06d}.jpg"), size), part)
            done.update((r, t) for r, t in zip(part, made) if t)
            on_progress((start + len(part)) / len(rows))
    return done


# --- writing -----------------------------------------------------------------------------

def _kml_colour(hex_rgb: str) -> str:
    """#rrggbb to KML's aabbggrr."""
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    return f"ff{b}{g}{r}"


def _icon_style(style_id: str, hex_rgb: str) -> str:
    return (f'  <Style id="{style_id}">\n   <IconStyle>\n'
            f"    <color>{_kml_colour(hex_rgb)}</color>\n    <colorMode>normal</colorMode>\n"
            f"    <scale>1</scale>\n    <heading>0</heading>\n"
            f"    <Icon>\n     <href>{ICON}</href>\n    </Icon>\n   </IconStyle>\n"
            f"  </Style>\n")


CIRCLE_STYLE = ('  <Style id="circle">\n   <LineStyle>\n    <color>ff0000ff</color>\n'
                '    <colorMode>normal</colorMode>\n   </LineStyle>\n   <PolyStyle>\n'
                '    <color>40ffffff</color>\n    <colorMode>normal</colorMode>\n'
                '    <fill>1</fill>\n    <outline>1</outline>\n   </PolyStyle>\n  </Style>\n')
ROUTE_STYLE = ('  <Style id="route">\n   <LineStyle>\n    <color>ff00a5ff</color>\n'
               '    <colorMode>normal</colorMode>\n    <width>3</width>\n   </LineStyle>\n'
               '  </Style>\n')


def _coordinates(pairs) -> str:
    return " ".join(f"{float(lon)},{float(lat)},0.0" for lon, lat in pairs)


def _placemark(name: str, geometry: str, description: Optional[str] = None,
               when: str = "", style: Optional[str] = None) -> str:
    """A Placemark's KML, its elements in the schema's order; texts escaped here."""
    parts = [f"  <Placemark>\n   <name>{text(name)}</name>\n"]
    if description is not None:
        parts.append(f"   <description>{text(description)}</description>\n")
    if when:
        parts.append(f"   <TimeStamp>\n    <when>{when}</when>\n   </TimeStamp>\n")
    if style:
        parts.append(f"   <styleUrl>#{style}</styleUrl>\n")
    parts.append(geometry)
    parts.append("  </Placemark>\n")
    return "".join(parts)


def _point(lat: float, lon: float) -> str:
    return (f"   <Point>\n    <coordinates>{_coordinates([(round(lon, 8), round(lat, 8))])}"
            f"</coordinates>\n   </Point>\n")


def _polygon(ring) -> str:
    return (f"   <Polygon>\n    <outerBoundaryIs>\n     <LinearRing>\n      <coordinates>"
            f"{_coordinates(ring)}</coordinates>\n     </LinearRing>\n    </outerBoundaryIs>\n"
            f"   </Polygon>\n")


class _Placemarks:
    """The placemarks of a table, made a chunk of rows at a time; every column is checked
    (template, group, balloon columns) before anything is written."""

    def __init__(self, data, options: ExportOptions, kmz: bool):
        self.data, self.options, self.kmz = data, options, kmz
        self.exported = exported = exported_positions(data, options)
        replaced, self.located = exported.replaced, exported.located
        if options.name_template:
            check_template(data, options.name_template)
        self.balloon = [v for v in balloon_columns(data, options.balloon_columns)
                        if v.name not in exported.hidden]
        keys = group_keys(data, options.group, replaced, self.located)
        self.groups, self.group_of = [], None  # folder names (sorted), each row's folder
        if keys is not None:
            values = np.empty(len(keys), dtype=object)
            values[:] = keys
            groups, self.group_of = np.unique(values, return_inverse=True)
            self.groups = [str(g) for g in groups]
        self.times = utc_times(data)
        self.radius = column(data, UNCERTAINTY) if options.uncertainty_circles else None
        self.image_var = find_image_column(data) if options.thumbnail_size > 0 else None
        self.thumbnails: Dict[int, str] = {}  # row -> path inside the KMZ
        self.photos = self.unreadable = 0

    def folders(self):
        """(folder name or None, its rows in table order)."""
        if self.group_of is None:
            yield None, self.located
        for k, name in enumerate(self.groups):
            yield name or "(none)", self.located[self.group_of == k]

    def make_thumbnails(self, scratch: str, on_progress, should_stop):
        """Thumbnails of the local photos, for a KMZ; counts the photos it could not read."""
        photos = {r: p for r, p in zip(self.located, self._paths(self.located))
                  if p and not is_url(p)}
        made = make_thumbnails(photos, scratch, self.options.thumbnail_size, on_progress,
                               should_stop)
        self.thumbnails = {r: "files/" + os.path.basename(t) for r, t in made.items()}
        self.photos, self.unreadable = len(photos), len(photos) - len(made)

    def _paths(self, rows):
        if self.image_var is None:
            return [None] * len(rows)
        return image_paths(self.data, self.image_var, rows)

    def _sources(self, rows) -> list:
        """Each row's balloon image: a thumbnail in the KMZ, a URL, or a local file that
        Google Earth shows next to a plain KML."""
        sources = []
        for row, path in zip(rows, self._paths(rows)):
            if not path or is_url(path):
                sources.append(path)
            elif self.kmz:
                sources.append(self.thumbnails.get(row))
            else:
                self.photos += 1
                exists = os.path.exists(path)
                self.unreadable += not exists
                sources.append("file://" + os.path.abspath(path) if exists else None)
        return sources

    def xml(self, rows, style: Optional[str]) -> str:
        """The placemarks of these rows (and their uncertainty circles), as KML text."""
        data, exported, size = self.data, self.exported, self.options.thumbnail_size
        names = placemark_names(data, self.options.name_template, rows, exported.replaced)
        cells = column_cells(data, self.balloon, exported.replaced, rows)
        sources = self._sources(rows)
        parts = []
        for i, row in enumerate(rows):
            lat, lon = exported.lat[row], exported.lon[row]
            when = iso(self.times[row]) if self.times is not None \
                and np.isfinite(self.times[row]) else ""
            parts.append(_placemark(
                names[i], _point(lat, lon), balloon_html(cells, i, sources[i], size), when,
                style))
            radius = self.radius[row] if self.radius is not None else np.nan
            if exported.predicted[row] and np.isfinite(radius) and radius > 0:
                parts.append(_placemark(f"{names[i]} (uncertainty, {radius:.0f} m)",
                                        _polygon(circle(lat, lon, radius)), style="circle"))
        return "".join(parts)

    def has_circles(self) -> bool:
        if self.radius is None:
            return False
        rows = self.located
        with np.errstate(invalid="ignore"):
            return bool((self.exported.predicted[rows] & (self.radius[rows] > 0)).any())

    def time_line(self) -> np.ndarray:
        """Rows with a time, in time order, when the line is asked for and has two."""
        if not self.options.time_line or self.times is None:
            return np.zeros(0, int)
        timed = self.located[np.isfinite(self.times[self.located])]
        timed = timed[np.argsort(self.times[timed], kind="stable")]
        return timed if len(timed) > 1 else np.zeros(0, int)


def write_kml(data, path: str, options: ExportOptions = None, on_progress=None,
              should_stop=None) -> ExportSummary:
    """Write a placemark for every row with a possible position to ``path`` (.kml or
    .kmz).

    In a KMZ each balloon shows a thumbnail stored in the archive; a plain KML links to
    the photo on disk. Rows without a position, or with an impossible one, are counted in
    the summary, as are photos that could not be read. A full disk is an error (OSError).
    """
    options = options or ExportOptions()
    on_progress = on_progress or no_progress
    ext = os.path.splitext(path)[1].lower()
    if ext not in KML_EXTENSIONS:
        raise ValueError(f"{path}: KML export writes .kml or .kmz")
    kmz = ext == ".kmz"
    marks = _Placemarks(data, options, kmz)
    with tempfile.TemporaryDirectory() as scratch:
        start = 0.0
        if kmz and marks.image_var is not None:
            with _no_space("writing thumbnails", scratch):
                marks.make_thumbnails(scratch, scaled(on_progress, 0, 0.85), should_stop)
            start = 0.85
        with _no_space(f"writing {os.path.basename(path)}", path), \
                atomic_path(path) as tmp:
            if kmz:
                # doc.kml is streamed to the scratch folder, then stored with its size
                # known: an entry streamed into the zip gets a data descriptor and zip64
                # fields that GDAL (and so QGIS) does not open
                document = os.path.join(scratch, "doc.kml")
                with open(document, "wb") as doc:
                    _write_document(marks, doc, scaled(on_progress, start, 0.95),
                                    should_stop)
                with zipfile.ZipFile(tmp, "w") as archive:
                    # doc.kml first: Google Earth reads the first .kml
                    archive.write(document, "doc.kml", compress_type=zipfile.ZIP_DEFLATED)
                    os.remove(document)
                    _add_thumbnails(archive, scratch, should_stop)
            else:
                with open(tmp, "wb") as doc:
                    _write_document(marks, doc, scaled(on_progress, start, 0.99),
                                    should_stop)
            check_stop(should_stop)
    on_progress(1.0)
    exported = marks.exported
    return ExportSummary(path, len(marks.located), exported.without_position,
                         list(marks.groups),
                         int(exported.predicted[marks.located].sum()),
                         impossible=exported.impossible, photos=marks.photos,
                         thumbnails_failed=marks.unreadable)


def _write_document(marks: _Placemarks, stream, on_progress, should_stop):
    """The KML document, written as it is made: styles, folders of placemarks, the line."""

    def write(part: str):
        stream.write(part.encode("utf-8"))

    write(f'<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="{KML_NS}">\n'
          f" <Document>\n  <name>{text(marks.options.document_name)}</name>\n")
    for k, _ in enumerate(marks.groups):
        write(_icon_style(f"group{k + 1}", PALETTE[k % len(PALETTE)]))
    if marks.has_circles():
        write(CIRCLE_STYLE)
    line = marks.time_line()
    if len(line):
        write(ROUTE_STYLE)
    total, written = max(1, len(marks.located)), 0
    for k, (folder, rows) in enumerate(marks.folders()):
        if folder is not None:
            write(f"  <Folder>\n   <name>{text(folder)}</name>\n")
        for at in range(0, len(rows), CHUNK):
            check_stop(should_stop)
            part = rows[at:at + CHUNK]
            write(marks.xml(part, f"group{k + 1}" if folder is not None else None))
            written += len(part)
            on_progress(written / total)
        if folder is not None:
            write("  </Folder>\n")
    if len(line):
        write("  <Placemark>\n   <name>Route in time order</name>\n"
              "   <styleUrl>#route</styleUrl>\n   <LineString>\n    <coordinates>")
        exported = marks.exported
        for at in range(0, len(line), CHUNK * 10):
            part = line[at:at + CHUNK * 10]
            write((" " if at else "")
                  + _coordinates(zip(exported.lon[part], exported.lat[part])))
        write("</coordinates>\n   </LineString>\n  </Placemark>\n")
    write(" </Document>\n</kml>\n")


def _add_thumbnails(archive: zipfile.ZipFile, thumbs_folder: str, should_stop=None):
    """Thumbnails stored as they are (JPEG does not compress further)."""
    for i, name in enumerate(sorted(os.listdir(thumbs_folder))):
        if i % 200 == 0:
            check_stop(should_stop)
        archive.write(os.path.join(thumbs_folder, name), "files/" + name,
                      compress_type=zipfile.ZIP_STORED)


@contextmanager
def _no_space(doing: str, where: str):
    """Turns a full disk (or quota, or file size limit) into one clear error: "no space
    left on device while writing thumbnails (in /tmp/...)"."""
    try:
        yield
    except OSError as ex:
        if ex.errno not in NO_SPACE:
            raise
        folder = where if os.path.isdir(where) else os.path.dirname(os.path.abspath(where))
        raise OSError(f"{os.strerror(ex.errno).lower()} while {doing} (in {folder})") from ex
