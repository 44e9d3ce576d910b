"""KML Export core: Google Earth KML/KMZ (simplekml), GeoJSON and GeoPackage (geopandas),
from any table with coordinates (no Qt).

Placemarks are named from a template over columns, carry a balloon with a thumbnail and a
table of chosen columns, sit in folders by a discrete column with distinct icon colours, get
a TimeStamp for Google Earth's time slider and, for predicted locations, their uncertainty
circle. Writes are atomic: a failed or cancelled export leaves no file behind.
"""
import html
import math
import os
import re
import string
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, List, Optional, Sequence

import numpy as np

from orangecontrib.geophoto.progress import check_stop, no_progress
from orangecontrib.geophoto.tables import (
    atomic_path, find_image_column, find_lat_lon, image_paths, is_url,
)

KML_EXTENSIONS = (".kml", ".kmz")
VECTOR_EXTENSIONS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}
EXTENSIONS = KML_EXTENSIONS + tuple(VECTOR_EXTENSIONS)
TIME_COLUMN = "time (UTC)"
UNCERTAINTY = "uncertainty (m)"
EARTH_RADIUS_M = 6371008.8
# distinct, colour-blind-friendly icon colours (Okabe-Ito), as #rrggbb
PALETTE = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
           "#999999", "#000000", "#ffffff")


@dataclass
class ExportOptions:
    """What the widget and the CLI can set; defaults are what a user expects."""
    name_template: str = ""            # e.g. "{name} - {place}"; "" = name, place, file
    group: Optional[str] = None        # discrete column: a folder per value
    thumbnail_size: int = 320          # px of the longer side in KMZ balloons; 0: none
    balloon_columns: Optional[Sequence[str]] = None  # None: every visible, non-feature one
    time_line: bool = False            # a line joining photos in time order
    uncertainty_circles: bool = True   # for predicted positions with an uncertainty
    privacy_grid_m: float = 0          # coarsen positions to a grid of this size
    privacy_to_place: bool = False     # or move them to the nearest GeoNames place
    document_name: str = "Photos"


@dataclass
class ExportSummary:
    path: str
    placemarks: int
    without_position: int
    groups: List[str] = field(default_factory=list)


# --- positions ---------------------------------------------------------------------------

def positions(data):
    """(lat, lon, predicted): true coordinates where present, else the predicted ones."""
    lat_var, lon_var = find_lat_lon(data)
    if lat_var is None:
        raise ValueError("the data has no latitude and longitude columns")
    lat = data.get_column(lat_var).astype(float)
    lon = data.get_column(lon_var).astype(float)
    return lat, lon, "predicted" in lat_var.name


def _export_positions(data, options: "ExportOptions"):
    """Positions after the privacy option, and the rows that have one."""
    lat, lon, predicted = positions(data)
    lat, lon = coarsen(lat, lon, options.privacy_grid_m, options.privacy_to_place)
    return lat, lon, predicted, np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))


def coarsen(lat: np.ndarray, lon: np.ndarray, grid_m: float = 0, to_place: bool = False):
    """Privacy: snap positions to the centre of a grid cell of ``grid_m`` metres, or move
    them to the nearest GeoNames place, so shared maps do not reveal homes."""
    lat, lon = lat.copy(), lon.copy()
    ok = np.isfinite(lat) & np.isfinite(lon)
    if to_place and ok.any():
        from orangecontrib.geophoto.geocode.places import places
        gazetteer = places()
        index, _ = gazetteer.nearest(lat[ok], lon[ok])
        lat[ok], lon[ok] = gazetteer.latitude[index], gazetteer.longitude[index]
    elif grid_m > 0:
        step_lat = grid_m / 111_320.0
        lat[ok] = (np.floor(lat[ok] / step_lat) + 0.5) * step_lat
        step_lon = step_lat / np.maximum(np.cos(np.radians(lat[ok])), 1e-6)
        lon[ok] = (np.floor(lon[ok] / step_lon) + 0.5) * step_lon
    return lat, lon


def circle(lat: float, lon: float, radius_m: float, points: int = 48):
    """(lon, lat) ring of a circle on the sphere, for uncertainty polygons."""
    d = radius_m / EARTH_RADIUS_M
    la, lo = math.radians(lat), math.radians(lon)
    ring = []
    for k in range(points + 1):
        bearing = 2 * math.pi * k / points
        la2 = math.asin(math.sin(la) * math.cos(d)
                        + math.cos(la) * math.sin(d) * math.cos(bearing))
        lo2 = lo + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(la),
                              math.cos(d) - math.sin(la) * math.sin(la2))
        ring.append((math.degrees(lo2), math.degrees(la2)))
    return ring


# --- names and balloons ------------------------------------------------------------------

def _visible_columns(data) -> list:
    return [v for v in (*data.domain.variables, *data.domain.metas)
            if not v.attributes.get("hidden")]


def _cell(var, value) -> str:
    if var.is_string:
        return "" if value is None else str(value)
    if isinstance(value, float) and np.isnan(value):
        return ""
    if var.is_time:
        return var.repr_val(value)
    if var.is_continuous:
        return f"{float(value):.8g}"
    return var.str_val(value)


def template_fields(template: str) -> List[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def placemark_names(data, template: str = "") -> List[str]:
    """Names from a template over column names (``{name} - {place}``); by default the
    Local Embedder's ``name``, else the place, else the file name, else the row number."""
    columns = {v.name: v for v in (*data.domain.variables, *data.domain.metas)}
    if template:
        unknown = [f for f in template_fields(template) if f not in columns]
        if unknown:
            raise ValueError(f"unknown column {', '.join(unknown)} in the name template; "
                             f"columns: {', '.join(columns)}")
        values = {f: [_cell(columns[f], x) for x in data.get_column(columns[f])]
                  for f in template_fields(template)}
        names = []
        for i in range(len(data)):
            name = template.format_map({f: values[f][i] for f in values})
            names.append(re.sub(r"^[\s\-/,]+|[\s\-/,]+$", "", name))  # empty parts
        return names
    candidates = [[_cell(columns[c], x) for x in data.get_column(columns[c])]
                  for c in ("name", "place") if c in columns]
    image_var = find_image_column(data)
    if image_var is not None:
        candidates.append([os.path.basename(p) if p else "" for p in image_paths(data, image_var)])
    names = []
    for i in range(len(data)):
        names.append(next((c[i] for c in candidates if c[i]), f"Photo {i + 1}"))
    return names


def column_cells(data, columns) -> dict:
    """Column name -> the text of each row, computed once for all balloons."""
    return {v.name: [_cell(v, x) for x in data.get_column(v)] for v in columns}


def balloon_html(cells: dict, row: int, image_src: Optional[str], size: int) -> str:
    """A thumbnail and a table of the chosen columns; every value HTML-escaped."""
    parts = []
    if image_src:
        parts.append(f'<img src="{html.escape(image_src, quote=True)}" '
                     f'style="max-width:{size}px;max-height:{size}px"/><br/>')
    rows = "".join(f"<tr><th align='left'>{html.escape(name)}</th>"
                   f"<td>{html.escape(values[row])}</td></tr>"
                   for name, values in cells.items())
    parts.append(f"<table>{rows}</table>")
    return "".join(parts)


def make_thumbnail(path: str, folder: str, size: int, index: int) -> Optional[str]:
    """A JPEG thumbnail, EXIF-rotated; None when the photo cannot be read."""
    from PIL import Image, ImageOps
    try:
        with Image.open(path) as im:
            im.draft("RGB", (size, size))
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((size, size))
            target = os.path.join(folder, f"photo{index:05d}.jpg")
            im.save(target, "JPEG", quality=85)
            return target
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


# --- KML / KMZ ---------------------------------------------------------------------------

def _kml_colour(hex_rgb: str) -> str:
    """#rrggbb to KML's aabbggrr."""
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    return f"ff{b}{g}{r}"


def write_kml(data, path: str, options: ExportOptions = None,
              on_progress: Callable[[float], None] = None,
              should_stop: Callable[[], bool] = None) -> ExportSummary:
    """Write placemarks for every row with a position to ``path`` (.kml or .kmz)."""
    import simplekml
    options = options or ExportOptions()
    on_progress = on_progress or no_progress
    ext = os.path.splitext(path)[1].lower()
    if ext not in KML_EXTENSIONS:
        raise ValueError(f"{path}: KML export writes .kml or .kmz")
    lat, lon, predicted, located = _export_positions(data, options)
    names = placemark_names(data, options.name_template)
    cells = column_cells(data, _balloon_columns(data, options.balloon_columns))
    image_var = find_image_column(data)
    photos = image_paths(data, image_var) if image_var is not None else [None] * len(data)
    times = _utc_times(data)
    uncertainty = _column(data, UNCERTAINTY) if predicted and options.uncertainty_circles \
        else None
    kml = simplekml.Kml(name=options.document_name)
    group_var, folders, styles = _groups(data, options.group, kml)
    with tempfile.TemporaryDirectory() as thumbs:
        for step, row in enumerate(located):
            if step % 20 == 0:
                check_stop(should_stop)
                on_progress(0.95 * step / max(len(located), 1))
            key = _group_key(data, group_var, row)
            container = folders.get(key, kml) if group_var is not None else kml
            point = container.newpoint(name=names[row], coords=[(lon[row], lat[row])])
            src = _image_source(photos[row], ext, options.thumbnail_size, thumbs, row, kml)
            point.description = balloon_html(cells, row, src, options.thumbnail_size)
            if key in styles:
                point.style = styles[key]
            if times is not None and np.isfinite(times[row]):
                point.timestamp.when = _iso(times[row])
            if uncertainty is not None and np.isfinite(uncertainty[row]) \
                    and uncertainty[row] > 0:
                poly = container.newpolygon(name=f"{names[row]} (68% radius)",
                                            outerboundaryis=circle(lat[row], lon[row],
                                                                   uncertainty[row]))
                poly.style.polystyle.color = "40ffffff"
                poly.style.linestyle.color = "ff0000ff"
        if options.time_line and times is not None:
            timed = [r for r in located if np.isfinite(times[r])]
            timed.sort(key=lambda r: times[r])
            if len(timed) > 1:
                line = kml.newlinestring(name="Route in time order",
                                         coords=[(lon[r], lat[r]) for r in timed])
                line.style.linestyle.width = 3
                line.style.linestyle.color = "ff00a5ff"
        check_stop(should_stop)
        with atomic_path(path) as tmp:
            if ext == ".kmz":
                kml.savekmz(tmp)
            else:
                kml.save(tmp)
            check_stop(should_stop)
    on_progress(1.0)
    return ExportSummary(path, len(located), len(data) - len(located), list(folders))


def _image_source(photo, ext, size, thumbs, row, kml) -> Optional[str]:
    if not photo or size <= 0:
        return None
    if is_url(photo):
        return photo
    if ext == ".kml":  # Google Earth shows local files next to a plain KML
        return "file://" + os.path.abspath(photo) if os.path.exists(photo) else None
    thumb = make_thumbnail(photo, thumbs, size, row)
    return kml.addfile(thumb) if thumb else None


def _balloon_columns(data, chosen):
    visible = _visible_columns(data)
    if chosen is None:
        return [v for v in visible if v.name not in ("error",)]
    by_name = {v.name: v for v in (*data.domain.variables, *data.domain.metas)}
    unknown = [c for c in chosen if c not in by_name]
    if unknown:
        raise ValueError(f"unknown balloon column {', '.join(unknown)}")
    return [by_name[c] for c in chosen]


def _column(data, name) -> Optional[np.ndarray]:
    names = {v.name: v for v in (*data.domain.variables, *data.domain.metas)}
    return data.get_column(names[name]).astype(float) if name in names else None


def _utc_times(data) -> Optional[np.ndarray]:
    names = {v.name: v for v in (*data.domain.variables, *data.domain.metas)}
    var = names.get(TIME_COLUMN) or next((v for v in names.values() if v.is_time), None)
    return None if var is None else data.get_column(var).astype(float)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _groups(data, group, kml):
    """A folder and an icon colour per value of the group column."""
    import simplekml
    if not group:
        return None, {}, {}
    names = {v.name: v for v in (*data.domain.variables, *data.domain.metas)}
    if group not in names:
        raise ValueError(f"unknown group column {group}")
    var = names[group]
    values = sorted({_group_key(data, var, r) for r in range(len(data))})
    folders = {value: kml.newfolder(name=value or "(none)") for value in values}
    styles = {}
    for i, value in enumerate(values):
        style = simplekml.Style()
        style.iconstyle.color = _kml_colour(PALETTE[i % len(PALETTE)])
        style.iconstyle.icon.href = "http://maps.google.com/mapfiles/kml/paddle/wht-blank.png"
        styles[value] = style
    return var, folders, styles


def _group_key(data, var, row) -> str:
    if var is None:
        return ""
    value = data.get_column(var)[row]
    return _cell(var, value)


# --- GeoJSON / GeoPackage ----------------------------------------------------------------

def write_vector(data, path: str, options: ExportOptions = None,
                 on_progress: Callable[[float], None] = None,
                 should_stop: Callable[[], bool] = None) -> ExportSummary:
    """Points with every visible column (features such as n0... left out), as GeoJSON or
    GeoPackage through geopandas/pyogrio."""
    import geopandas
    import pandas as pd
    options = options or ExportOptions()
    ext = os.path.splitext(path)[1].lower()
    if ext not in VECTOR_EXTENSIONS:
        raise ValueError(f"{path}: vector export writes .geojson or .gpkg")
    lat, lon, _, located = _export_positions(data, options)
    check_stop(should_stop)
    columns = {}
    for var in _visible_columns(data):
        values = data.get_column(var)[located]
        if var.is_time:
            values = [_iso(t) if np.isfinite(t) else None for t in values.astype(float)]
        elif var.is_discrete:
            values = [_cell(var, x) for x in values]
        elif var.is_continuous:
            values = values.astype(float)
        columns[var.name] = values
    if options.privacy_grid_m or options.privacy_to_place:
        lat_var, lon_var = find_lat_lon(data)
        columns[lat_var.name], columns[lon_var.name] = lat[located], lon[located]
    frame = geopandas.GeoDataFrame(pd.DataFrame(columns),
                                   geometry=geopandas.points_from_xy(lon[located],
                                                                     lat[located]),
                                   crs="EPSG:4326")
    with atomic_path(path) as tmp:
        os.remove(tmp)  # GDAL creates the file itself
        frame.to_file(tmp, driver=VECTOR_EXTENSIONS[ext], layer="photos"
                      if ext == ".gpkg" else None)
        check_stop(should_stop)
    (on_progress or no_progress)(1.0)
    return ExportSummary(path, len(located), len(data) - len(located))


def export(data, path: str, options: ExportOptions = None, on_progress=None,
           should_stop=None) -> ExportSummary:
    """Write by extension: .kml, .kmz, .geojson or .gpkg."""
    ext = os.path.splitext(path)[1].lower()
    if ext in KML_EXTENSIONS:
        return write_kml(data, path, options, on_progress, should_stop)
    if ext in VECTOR_EXTENSIONS:
        return write_vector(data, path, options, on_progress, should_stop)
    raise ValueError(f"{path}: choose a .kml, .kmz, .geojson or .gpkg file")
