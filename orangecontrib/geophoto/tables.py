"""Orange Table helpers shared by every capability (no Qt).

The column conventions that let the widgets connect without configuration live here:
the image column as Import Images marks it, ``latitude``/``longitude`` found the way
orange3-geo finds them, new columns appended with unique names, and tables read and
written by file extension for the command line.
"""
import csv
import os
import tempfile
from contextlib import contextmanager
from typing import List, Optional, Sequence, Tuple
from urllib.parse import urlparse

import numpy as np
from Orange.data import (
    ContinuousVariable, DiscreteVariable, Domain, StringVariable, Table, TimeVariable,
    Variable,
)
from Orange.data.util import get_unique_names

LATITUDE_NAMES = ("latitude", "lat")
LONGITUDE_NAMES = ("longitude", "lng", "long", "lon")
URL_SCHEMES = ("http", "https", "ftp", "data")
TABLE_EXTENSIONS = (".csv", ".tab", ".pkl")


# --- image column -----------------------------------------------------------------------

def find_image_column(data: Table) -> Optional[Variable]:
    """The column holding image paths: a ``type=image`` meta first (Import Images), else
    the first string meta whose values look like image file names."""
    candidates = image_column_candidates(data)
    return candidates[0] if candidates else None


def image_column_candidates(data: Optional[Table]) -> List[Variable]:
    """String/discrete metas that may hold paths, ``type=image`` first (as Image Analytics)."""
    if data is None:
        return []
    metas = [v for v in data.domain.metas if isinstance(v, (StringVariable, DiscreteVariable))]
    tagged = [v for v in metas if v.attributes.get("type") == "image"]
    if tagged:
        return tagged + [v for v in metas if v not in tagged]
    looks_like_path = [v for v in metas if _values_look_like_paths(data, v)]
    return looks_like_path + [v for v in metas if v not in looks_like_path]


def _values_look_like_paths(data: Table, var: Variable) -> bool:
    values = [str(v) for v in data.get_column(var)[:20] if v not in ("", None)]
    return bool(values) and all(
        os.path.splitext(v)[1].lower() in IMAGE_EXTENSIONS or "/" in v or os.sep in v
        for v in values)


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".png", ".webp", ".heic",
                    ".heif", ".hif", ".avif", ".bmp", ".gif")


def image_paths(data: Table, var: Variable) -> List[Optional[str]]:
    """Full paths (or URLs, unchanged) of a column, joined with its ``origin`` attribute
    as Image Analytics does; ``None`` for empty cells."""
    origin = var.attributes.get("origin", "") or ""
    paths = []
    for value in data.get_column(var):
        if isinstance(var, DiscreteVariable) and not isinstance(value, str):
            value = var.str_val(value)
        if value is None or (isinstance(value, float) and np.isnan(value)) \
                or str(value) in ("", "?"):
            paths.append(None)
            continue
        value = str(value)
        if is_url(value):
            paths.append(value)
        elif is_url(origin):
            paths.append(origin.rstrip("/") + "/" + value)
        else:
            paths.append(os.path.join(origin, value))
    return paths


def is_url(path: str) -> bool:
    return urlparse(path).scheme in URL_SCHEMES


def table_from_paths(paths: Sequence[str], name: str = "Images") -> Table:
    """A table with one ``image`` meta (``type=image``), one row per path, as the CLI needs."""
    var = StringVariable("image")
    var.attributes["type"] = "image"
    metas = np.array([[str(p)] for p in paths], dtype=object).reshape(len(paths), 1)
    table = Table.from_numpy(Domain([], metas=[var]), np.empty((len(paths), 0)),
                             metas=metas)
    table.name = name
    return table


# --- coordinates --------------------------------------------------------------------------

def find_lat_lon(data: Optional[Table], include_hidden: bool = True
                 ) -> Tuple[Optional[Variable], Optional[Variable]]:
    """Latitude and longitude columns, found as orange3-geo finds them: continuous
    variables (attributes, class or metas) whose lower-case names start with
    ``latitude``/``lat`` and ``longitude``/``lng``/``long``/``lon``.

    True coordinates win over ``latitude (predicted)`` when both are present, because the
    exact name ``latitude`` is tried first. Returns ``(None, None)`` when either is missing.
    """
    if data is None:
        return None, None
    cont = [v for v in (*data.domain.variables, *data.domain.metas)
            if v.is_continuous and (include_hidden or not v.attributes.get("hidden"))]

    def pick(names):
        exact = [v for v in cont if v.name.lower() in names]
        if exact:
            return exact[0]
        return next((v for v in cont if v.name.lower().startswith(names)), None)

    lat, lon = pick(LATITUDE_NAMES), pick(LONGITUDE_NAMES)
    if lat is None or lon is None:
        return None, None
    return lat, lon


def coordinates(data: Table, lat_var: Variable, lon_var: Variable) -> np.ndarray:
    """An (n, 2) float array of latitude, longitude; NaN where missing."""
    return np.column_stack([data.get_column(lat_var).astype(float),
                            data.get_column(lon_var).astype(float)])


def valid_coordinates(latlon: np.ndarray) -> np.ndarray:
    """Boolean mask: both values present and inside +-90 / +-180."""
    lat, lon = latlon[:, 0], latlon[:, 1]
    with np.errstate(invalid="ignore"):
        return np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)


# --- appending columns --------------------------------------------------------------------

def append_columns(data: Table, attributes=(), metas=(), class_vars=None) -> Table:
    """Return ``data`` with new columns; never drops or reorders rows.

    ``attributes`` and ``metas`` are sequences of ``(variable, values)``. Variables whose
    names already exist in the domain are renamed with ``get_unique_names``
    (``latitude (1)``...). ``class_vars``, when given, replaces the class variables.
    """
    attributes, metas = list(attributes), list(metas)
    names = get_unique_names(data.domain, [v.name for v, _ in attributes + metas],
                             equal_numbers=False)
    renamed = [(v if v.name == n else v.copy(name=n), vals)
               for (v, vals), n in zip(attributes + metas, names)]
    new_attrs, new_metas = renamed[:len(attributes)], renamed[len(attributes):]
    domain = Domain(
        data.domain.attributes + tuple(v for v, _ in new_attrs),
        data.domain.class_vars if class_vars is None else class_vars,
        data.domain.metas + tuple(v for v, _ in new_metas))
    out = data.transform(domain)
    n_attrs, n_metas = len(data.domain.attributes), len(data.domain.metas)
    # unlock only what changed: an unchanged part may be a view of the input's array
    if new_attrs:
        with out.unlocked(out.X):
            for i, (_, vals) in enumerate(new_attrs):
                out.X[:, n_attrs + i] = np.asarray(vals, dtype=float)
    if new_metas:
        with out.unlocked(out.metas):
            for i, (_, vals) in enumerate(new_metas):
                out.metas[:, n_metas + i] = _as_meta_column(vals)
    return out


def _as_meta_column(values) -> np.ndarray:
    values = list(values)
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def subset(data: Table, mask: np.ndarray, name: Optional[str] = None) -> Optional[Table]:
    """Rows where ``mask`` holds, or None when there are none (as Orange sends empty outputs)."""
    indices = np.flatnonzero(mask)
    if not len(indices):
        return None
    out = data[indices]
    if name:
        out.name = name
    return out


# --- files --------------------------------------------------------------------------------

def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextmanager
def atomic_path(path: str):
    """Yield a temporary path in the destination's folder and rename it onto ``path`` only
    when the block succeeds: a failed or cancelled write leaves no half-written file."""
    folder = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".geophoto-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        if os.path.exists(tmp):  # mkstemp makes it private; give it a normal file's mode
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_table(path: str) -> Table:
    """Read a table by extension: ``.csv`` (plain header row), ``.tab`` or ``.pkl``.

    A file that does not parse is a ValueError of one line. Loading a ``.pkl`` runs
    whatever its author put in it (that is the pickle format): read only files you trust."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in TABLE_EXTENSIONS:
        raise ValueError(f"{path}: unsupported table format {ext or '(none)'}; "
                         f"use one of {', '.join(TABLE_EXTENSIONS)}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        table = Table.from_file(path)
    except OSError:
        raise
    except Exception as ex:  # a pickle can fail (or be made to fail) in any way
        reason = (str(ex).strip().splitlines() or [type(ex).__name__])[0][:200]
        raise ValueError(f"{path}: not a readable {ext} table ({reason})") from None
    if ext == ".csv":
        _restore_image_column(table)
    return table


def _restore_image_column(table: Table) -> None:
    """CSV loses variable attributes; mark a column named ``image`` (or a path-like first
    string column) as the image column again so the next command finds it."""
    for var in table.domain.metas:
        if isinstance(var, StringVariable) and var.name in ("image", "path", "file"):
            var.attributes.setdefault("type", "image")
            return


def write_table(table: Table, path: str) -> None:
    """Write a table by extension, atomically. CSV gets one plain header row, the image
    column first, then every column (attributes, class, metas) in domain order, times as
    ISO 8601, numbers with 12 significant digits."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in TABLE_EXTENSIONS:
        raise ValueError(f"{path}: unsupported table format {ext or '(none)'}; "
                         f"use one of {', '.join(TABLE_EXTENSIONS)}")
    with atomic_path(path) as tmp:
        if ext == ".csv":
            _write_plain_csv(table, tmp)
        elif ext == ".pkl":
            table.save(tmp)
        else:
            from Orange.data.io import TabReader
            TabReader.write_file(tmp, table)


def _write_plain_csv(table: Table, path: str) -> None:
    images = [v for v in table.domain.metas if v.attributes.get("type") == "image"]
    variables = images + [v for v in (*table.domain.variables, *table.domain.metas)
                          if v not in images]
    columns = [table.get_column(v) for v in variables]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([v.name for v in variables])
        for row in zip(*columns) if columns else ():
            writer.writerow([_csv_value(v, x) for v, x in zip(variables, row)])


def _csv_value(var: Variable, value) -> str:
    if isinstance(var, StringVariable):
        return "" if value is None else str(value)
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(var, TimeVariable):
        return var.repr_val(value)
    if isinstance(var, ContinuousVariable):
        return f"{float(value):.12g}"
    return var.str_val(value)
