"""What every export format reads from a table: positions (true, else predicted), names,
balloon cells and UTC times. Plain Python, no Qt."""
import os
import re
import string
from datetime import datetime, timezone
from typing import Dict, List, Optional, Sequence

import numpy as np

from orangecontrib.geophoto.tables import find_image_column, find_lat_lon, image_paths

# column names agreed between the areas (contracts.md)
LATITUDE, LONGITUDE = "latitude", "longitude"
LAT_PRED, LON_PRED = "latitude (predicted)", "longitude (predicted)"
UNCERTAINTY = "uncertainty (m)"
TIME_COLUMN = "time (UTC)"
NAME, PLACE = "name", "place"
NOT_IN_BALLOONS = ("error", "time source")
_COPY = re.compile(r"^(.+) \((\d+)\)$")  # "width (1)": a unique name Orange gave a copy


def columns_by_name(data) -> Dict[str, object]:
    return {v.name: v for v in (*data.domain.variables, *data.domain.metas)}


def positions(data):
    """``(lat, lon, predicted)``: each row's true coordinates where present, else its
    predicted ones (``latitude (predicted)``...), and a boolean mask of the rows whose
    position is a prediction."""
    lat_var, lon_var = find_lat_lon(data)
    if lat_var is None:
        raise ValueError("the data has no latitude and longitude columns")
    lat = data.get_column(lat_var).astype(float)
    lon = data.get_column(lon_var).astype(float)
    columns = columns_by_name(data)
    pred_lat, pred_lon = columns.get(LAT_PRED), columns.get(LON_PRED)
    if pred_lat is None or pred_lon is None or not pred_lat.is_continuous:
        predicted = np.full(len(data), lat_var.name == LAT_PRED)
        return lat, lon, predicted & np.isfinite(lat) & np.isfinite(lon)
    plat = data.get_column(pred_lat).astype(float)
    plon = data.get_column(pred_lon).astype(float)
    use = ~(np.isfinite(lat) & np.isfinite(lon)) & np.isfinite(plat) & np.isfinite(plon)
    lat[use], lon[use] = plat[use], plon[use]
    return lat, lon, use | ((lat_var is pred_lat) & np.isfinite(lat) & np.isfinite(lon))


def column(data, name) -> Optional[np.ndarray]:
    var = columns_by_name(data).get(name)
    return None if var is None or not var.is_primitive() else \
        data.get_column(var).astype(float)


def utc_times(data) -> Optional[np.ndarray]:
    """Seconds since the epoch from ``time (UTC)`` (else the first time column)."""
    columns = columns_by_name(data)
    var = columns.get(TIME_COLUMN)
    if var is None or not var.is_time:
        var = next((v for v in columns.values() if v.is_time), None)
    return None if var is None else data.get_column(var).astype(float)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cell(var, value) -> str:
    """A cell as text, empty when missing (text given for a discrete column, as privacy
    replaces place names, is taken as it is)."""
    if var.is_string or isinstance(value, str):
        return "" if value is None else str(value)
    if isinstance(value, float) and np.isnan(value):
        return ""
    if var.is_time:
        return var.repr_val(value)
    if var.is_continuous:
        return f"{float(value):.8g}"
    return var.str_val(value)


def visible_columns(data) -> list:
    """Columns a person reads: not hidden (so not embedding features n0...)."""
    return [v for v in (*data.domain.variables, *data.domain.metas)
            if not v.attributes.get("hidden")]


def template_fields(template: str) -> List[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


def values_of(data, var, replaced: Optional[dict] = None, rows=None) -> np.ndarray:
    """A column's values (or those ``replaced`` gives for it, such as coarsened ones),
    of the given rows only when ``rows`` is not None."""
    values = (replaced or {}).get(var.name)
    values = np.asarray(data.get_column(var) if values is None else values)
    return values if rows is None else values[rows]


def check_template(data, template: str) -> None:
    """A ValueError naming the template's unknown columns, before anything is written."""
    columns = columns_by_name(data)
    fields = template_fields(template)
    unknown = [f for f in fields if f not in columns]
    if unknown or "" in fields:
        raise ValueError(f"unknown column {', '.join(unknown) or '{}'} in the name "
                         f"template; columns: {', '.join(columns)}")


def placemark_names(data, template: str = "", rows=None,
                    replaced: Optional[dict] = None) -> List[str]:
    """Names from a template over column names (``{name} - {place}``); by default the
    Local Embedder's ``name``, else the place, else the file name, else the row number.
    Separators left dangling by empty cells are trimmed. ``rows``: only these rows;
    ``replaced``: other values for some columns (privacy)."""
    columns = columns_by_name(data)
    rows = np.arange(len(data)) if rows is None else np.asarray(rows, dtype=np.intp)
    if template:
        check_template(data, template)
        values = {f: [cell(columns[f], x) for x in values_of(data, columns[f], replaced, rows)]
                  for f in template_fields(template)}
        names = []
        for i, row in enumerate(rows):
            name = template.format_map({f: values[f][i] for f in values})
            names.append(re.sub(r"^[\s\-/,]+|[\s\-/,]+$", "", name) or f"Photo {row + 1}")
        return names
    candidates = [[cell(columns[c], x) for x in values_of(data, columns[c], replaced, rows)]
                  for c in (NAME, PLACE) if c in columns]
    image_var = find_image_column(data)
    if image_var is not None:
        candidates.append([os.path.basename(p) if p else ""
                           for p in image_paths(data, image_var, rows)])
    return [next((c[i] for c in candidates if c[i]), f"Photo {row + 1}")
            for i, row in enumerate(rows)]


def without_copies(data, variables: list) -> list:
    """Leave out a column that repeats another under a unique name with the same values
    (``width (1)`` beside ``width`` when EXIF Geotag adds its own size to Import Images'),
    so a balloon shows each fact once."""
    by_name = {v.name: v for v in variables}
    kept = []
    for var in variables:
        match = _COPY.match(var.name)
        original = by_name.get(match.group(1)) if match else None
        if original is not None:
            cells = column_cells(data, [var, original])
            if cells[var.name] == cells[original.name]:
                continue
        kept.append(var)
    return kept


def balloon_columns(data, chosen: Optional[Sequence[str]]) -> list:
    """The chosen columns, or every visible one but the error reason, the time source and
    columns that only repeat another."""
    if chosen is None:
        return without_copies(data, [v for v in visible_columns(data)
                                     if v.name not in NOT_IN_BALLOONS])
    columns = columns_by_name(data)
    unknown = [c for c in chosen if c not in columns]
    if unknown:
        raise ValueError(f"unknown balloon column {', '.join(unknown)}; "
                         f"columns: {', '.join(columns)}")
    return [columns[c] for c in chosen]


def column_cells(data, columns, replaced: Optional[dict] = None,
                 rows=None) -> Dict[str, List[str]]:
    """Column name -> the text of each row (of ``rows``); ``replaced`` gives other values
    for some columns (coarsened coordinates, re-geocoded places)."""
    return {v.name: [cell(v, x) for x in values_of(data, v, replaced, rows)]
            for v in columns}


def group_keys(data, group: Optional[str], replaced: Optional[dict] = None,
               rows=None) -> Optional[List[str]]:
    """The folder of each row (of ``rows``): the group column's value as text."""
    if not group:
        return None
    var = columns_by_name(data).get(group)
    if var is None:
        raise ValueError(f"unknown group column {group}")
    return [cell(var, x) for x in values_of(data, var, replaced, rows)]
