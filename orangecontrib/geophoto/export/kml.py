"""Google Earth KML/KMZ through simplekml: named placemarks with thumbnail balloons,
folders with their own icon colours, time stamps, a time-ordered line and uncertainty
circles.

simplekml leaves anything inside ``<![CDATA[...]]>`` and whatever follows it unescaped, so
every text goes in already escaped (``parsetext(False)``): a label, place or file name can
never become markup. Its numeric ids are not valid ``xs:ID`` values, and it puts a
folder's styles before the folder's name; both are fixed on the way out so the file
validates against the OGC KML 2.2 schema.
"""
import html
import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Optional

import numpy as np

from orangecontrib.geophoto.export.options import ExportOptions, ExportSummary
from orangecontrib.geophoto.export.privacy import (
    exported_positions,
    coarsened_columns, hidden_when_private,
)
from orangecontrib.geophoto.export.table import (
    UNCERTAINTY, balloon_columns, column, column_cells, group_keys, iso, placemark_names,
    utc_times,
)
from orangecontrib.geophoto.progress import check_stop, no_progress, scaled
from orangecontrib.geophoto.tables import atomic_path, find_image_column, image_paths, is_url

KML_EXTENSIONS = (".kml", ".kmz")
KML_NS = "http://www.opengis.net/kml/2.2"
GX_NS = "http://www.google.com/kml/ext/2.2"
EARTH_RADIUS_M = 6371008.8
# distinct, colour-blind-friendly icon colours (Okabe-Ito), as #rrggbb
PALETTE = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
           "#999999", "#000000", "#ffffff")
ICON = "http://maps.google.com/mapfiles/kml/paddle/wht-blank.png"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FEATURES = {f"{{{KML_NS}}}{tag}" for tag in (
    "Placemark", "Folder", "Document", "NetworkLink", "GroundOverlay", "ScreenOverlay",
    "PhotoOverlay")}
_STYLES = {f"{{{KML_NS}}}Style", f"{{{KML_NS}}}StyleMap"}


def text(value: str) -> str:
    """Literal text for an XML element: escaped, without characters XML cannot hold, and
    file-name bytes that are not UTF-8 shown as ``\\xe9``."""
    from orangecontrib.geophoto.tables import printable
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

def _register_heif():
    try:
        import pillow_heif
        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - a declared dependency
        pass


def make_thumbnail(path: str, target: str, size: int) -> Optional[str]:
    """A JPEG of at most ``size`` px a side, EXIF-rotated and without the photo's metadata
    (no GPS in the archive); None when the photo cannot be read."""
    from PIL import Image, ImageOps
    try:
        with Image.open(path) as im:
            im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((size, size), Image.Resampling.LANCZOS)
            im.save(target, "JPEG", quality=85)
            return target
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def make_thumbnails(photos: Dict[int, str], folder: str, size: int, on_progress=None,
                    should_stop=None) -> Dict[int, str]:
    """Row -> thumbnail file, made on a few threads (Pillow decodes without the GIL)."""
    _register_heif()
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


def _group_styles(keys):
    """A folder name and an icon style per value of the group column."""
    import simplekml
    styles = {}
    for i, value in enumerate(sorted(set(keys))):
        style = simplekml.Style()
        style.iconstyle.color = _kml_colour(PALETTE[i % len(PALETTE)])
        style.iconstyle.icon.href = ICON
        styles[value] = style
    return styles


def schema_valid(kml_text: str) -> bytes:
    """simplekml's output made valid KML 2.2: ids as NCNames (``id12``), styles after a
    container's name, the default namespace without a prefix."""
    ET.register_namespace("", KML_NS)
    ET.register_namespace("gx", GX_NS)
    root = ET.fromstring(kml_text)
    for element in root.iter():
        if "id" in element.attrib and element.attrib["id"].isdigit():
            element.attrib["id"] = "id" + element.attrib["id"]
        if element.tag == f"{{{KML_NS}}}styleUrl" and element.text \
                and element.text[1:].isdigit():
            element.text = "#id" + element.text[1:]
        if element.tag in _FEATURES:
            styles = [child for child in element if child.tag in _STYLES]
            for style in styles:
                element.remove(style)
            children = list(element)
            at = next((i for i, c in enumerate(children) if c.tag in _FEATURES),
                      len(children))
            for k, style in enumerate(styles):
                element.insert(at + k, style)
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def write_kml(data, path: str, options: ExportOptions = None, on_progress=None,
              should_stop=None) -> ExportSummary:
    """Write a placemark for every row with a position to ``path`` (.kml or .kmz).

    In a KMZ each balloon shows a thumbnail stored in the archive; a plain KML links to
    the photo on disk. Rows without a position are counted in the summary.
    """
    import simplekml
    options = options or ExportOptions()
    on_progress = on_progress or no_progress
    ext = os.path.splitext(path)[1].lower()
    if ext not in KML_EXTENSIONS:
        raise ValueError(f"{path}: KML export writes .kml or .kmz")
    lat, lon, predicted, located = exported_positions(data, options)
    names = placemark_names(data, options.name_template)
    hidden = hidden_when_private(options)
    cells = column_cells(data, [v for v in balloon_columns(data, options.balloon_columns)
                                if v.name not in hidden],
                         coarsened_columns(data, options))
    keys = group_keys(data, options.group)
    times = utc_times(data)
    radius = column(data, UNCERTAINTY) if options.uncertainty_circles else None
    image_var = find_image_column(data)
    photos = image_paths(data, image_var) if image_var is not None else [None] * len(data)

    kml = simplekml.Kml(name=text(options.document_name))
    kml.parsetext(False)
    styles = _group_styles(keys[r] for r in located) if keys is not None else {}
    folders = {key: kml.newfolder(name=text(key or "(none)")) for key in styles}
    with tempfile.TemporaryDirectory() as scratch:
        sources = {}
        if options.thumbnail_size > 0:
            local = {r: photos[r] for r in located if photos[r] and not is_url(photos[r])}
            sources = {r: photos[r] for r in located if photos[r] and is_url(photos[r])}
            if ext == ".kmz":
                thumbs = make_thumbnails(local, scratch, options.thumbnail_size,
                                         scaled(on_progress, 0, 0.85), should_stop)
                sources.update((r, "files/" + os.path.basename(t)) for r, t in thumbs.items())
            else:  # Google Earth shows local files next to a plain KML
                sources.update((r, "file://" + os.path.abspath(p)) for r, p in local.items()
                               if os.path.exists(p))
        for step, row in enumerate(located):
            if step % 200 == 0:
                check_stop(should_stop)
                on_progress(0.85 + 0.1 * step / len(located))
            container = folders[keys[row]] if keys is not None else kml
            point = container.newpoint(name=text(names[row]),
                                       coords=[(round(lon[row], 8), round(lat[row], 8))])
            point.description = text(balloon_html(cells, row, sources.get(row),
                                                  options.thumbnail_size))
            if keys is not None:
                point.style = styles[keys[row]]
            if times is not None and np.isfinite(times[row]):
                point.timestamp.when = iso(times[row])
            if radius is not None and predicted[row] and np.isfinite(radius[row]) \
                    and radius[row] > 0:
                poly = container.newpolygon(
                    name=text(f"{names[row]} (uncertainty, {radius[row]:.0f} m)"),
                    outerboundaryis=circle(lat[row], lon[row], radius[row]))
                poly.style.polystyle.color = "40ffffff"
                poly.style.linestyle.color = "ff0000ff"
        if options.time_line and times is not None:
            timed = sorted((r for r in located if np.isfinite(times[r])),
                           key=lambda r: times[r])
            if len(timed) > 1:
                line = kml.newlinestring(name=text("Route in time order"),
                                         coords=[(lon[r], lat[r]) for r in timed])
                line.style.linestyle.width = 3
                line.style.linestyle.color = "ff00a5ff"
        check_stop(should_stop)
        document = schema_valid(kml.kml(format=False))
        with atomic_path(path) as tmp:
            if ext == ".kmz":
                _write_kmz(tmp, document, scratch, should_stop)
            else:
                with open(tmp, "wb") as f:
                    f.write(document)
            check_stop(should_stop)
    on_progress(1.0)
    return ExportSummary(path, len(located), len(data) - len(located),
                         sorted(folders), int(predicted[located].sum()))


def _write_kmz(path, document: bytes, thumbs_folder: str, should_stop=None):
    """doc.kml first (Google Earth reads the first .kml), thumbnails stored as they are
    (JPEG does not compress further)."""
    with zipfile.ZipFile(path, "w") as kmz:
        kmz.writestr("doc.kml", document, compress_type=zipfile.ZIP_DEFLATED)
        for i, name in enumerate(sorted(os.listdir(thumbs_folder))):
            if i % 200 == 0:
                check_stop(should_stop)
            kmz.write(os.path.join(thumbs_folder, name), "files/" + name,
                      compress_type=zipfile.ZIP_STORED)
