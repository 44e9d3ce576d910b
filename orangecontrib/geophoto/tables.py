"""Orange Table helpers shared by every capability (no Qt).

The column conventions that let the widgets connect without configuration live here:
the image column as Import Images marks it, ``latitude``/``longitude`` found the way
orange3-geo finds them, new columns appended with unique names, and tables read and
written by file extension for the command line.
"""
import csv
import os
import signal
import stat
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
    """The column holding image paths: a ``type=image`` column first (Import Images), else
    the first text or categorical column whose values look like image file names."""
    candidates = image_column_candidates(data)
    return candidates[0] if candidates else None


def image_column_candidates(data: Optional[Table]) -> List[Variable]:
    """Text and categorical columns that may hold paths, ``type=image`` first (as Image
    Analytics), then those whose values look like paths, then the other text metas.

    Found by content and role, not type: a CSV that repeats paths (several rows per photo)
    makes Orange guess a categorical column, and puts it among the attributes."""
    if data is None:
        return []
    domain = data.domain
    texts = [v for v in (*domain.metas, *domain.variables)
             if isinstance(v, (StringVariable, DiscreteVariable))]
    tagged = [v for v in texts if v.attributes.get("type") == "image"]
    looks_like_path = [v for v in texts if v not in tagged and _values_look_like_paths(data, v)]
    rest = [v for v in domain.metas if isinstance(v, (StringVariable, DiscreteVariable))
            and v not in tagged and v not in looks_like_path]
    return tagged + looks_like_path + rest


def _values_look_like_paths(data: Table, var: Variable) -> bool:
    values = [v for v in _texts(var, data.get_column(var)[:20]) if v not in ("", None)]
    return bool(values) and all(
        os.path.splitext(v)[1].lower() in IMAGE_EXTENSIONS or "/" in v or os.sep in v
        for v in values)


def _texts(var: Variable, values) -> list:
    """A text or categorical column's values as text; None where missing."""
    if isinstance(var, StringVariable):
        return [None if v is None or isinstance(v, float) and v != v else str(v)
                for v in values]
    return [None if v != v else var.values[int(v)] for v in values.astype(float)]


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".png", ".webp", ".heic",
                    ".heif", ".hif", ".avif", ".bmp", ".gif")


def image_paths(data: Table, var: Variable, rows=None) -> List[Optional[str]]:
    """Full paths (or URLs, unchanged) of a column (of ``rows`` only, when given), joined
    with its ``origin`` attribute as Image Analytics does; ``None`` for empty cells."""
    origin = var.attributes.get("origin", "") or ""
    values = data.get_column(var)
    paths = []
    for value in _texts(var, values if rows is None else values[rows]):
        if value is None or value in ("", "?"):
            paths.append(None)
            continue
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


_TERMINATING = {signal.SIGINT, signal.SIGTERM} | (
    {signal.SIGHUP} if hasattr(signal, "SIGHUP") else set())


def _hold_signals():
    """Block the signals that end a run (they stay pending) in this thread; the old mask,
    or None where signals cannot be blocked (Windows)."""
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, _TERMINATING)
    except (AttributeError, OSError, ValueError):
        return None


def _release_signals(held) -> None:
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


@contextmanager
def atomic_path(path: str):
    """Yield a temporary path in the destination's folder and rename it onto ``path`` only
    when the block succeeds: a failed or cancelled write leaves no half-written file.

    A symlink is followed (its target is replaced, the link stays a link), an existing
    file keeps its permissions, and errors name ``path``, not the hidden temporary file."""
    target = os.path.realpath(path) if os.path.islink(path) else path
    folder = os.path.dirname(os.path.abspath(target))
    suffix = os.path.splitext(target)[1]
    held = _hold_signals()  # a signal between making the file and arming its cleanup
    try:
        fd, tmp = tempfile.mkstemp(prefix=".geophoto-", suffix=suffix, dir=folder)
    except OSError as ex:
        _release_signals(held)
        raise _naming(ex, path) from None
    except BaseException:
        _release_signals(held)
        raise
    os.close(fd)
    try:
        _release_signals(held)  # a signal that came meanwhile is raised here: cleaned up
        yield tmp
        if os.path.exists(tmp):  # mkstemp makes it private; give it the file's mode
            _copy_mode(target, tmp)
        os.replace(tmp, target)
    except OSError as ex:
        if tmp in (ex.filename, ex.filename2):
            raise _naming(ex, path) from None
        raise
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _copy_mode(target: str, tmp: str) -> None:
    """The existing file's mode (and owner, where allowed), else a new file's mode."""
    try:
        st = os.stat(target)
    except OSError:
        os.chmod(tmp, 0o666 & ~_UMASK)
        return
    os.chmod(tmp, stat.S_IMODE(st.st_mode))
    try:
        os.chown(tmp, st.st_uid, st.st_gid)
    except OSError:
        pass  # only root may give a file away


def _naming(ex: OSError, path: str) -> OSError:
    """The same error about the path the user asked for."""
    return type(ex)(ex.errno, ex.strerror or str(ex), path)


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
        if ext != ".csv":
            return Table.from_file(path)
        table = _from_spreadsheet_text(_read_csv(path))
    except OSError:
        raise
    except Exception as ex:  # a pickle can fail (or be made to fail) in any way
        reason = (str(ex).strip().splitlines() or [type(ex).__name__])[0][:200]
        raise ValueError(f"{path}: not a readable {ext} table ({reason})") from None
    _restore_image_column(table)
    return table


def _read_csv(path: str) -> Table:
    """A CSV as Orange's reader reads it, but with ``"`` as the only quote character:
    Orange's sniffer may take the ``'`` that ``spreadsheet_safe`` puts before cells for a
    quote character and run cells together. Files not in UTF-8 go to Orange's reader,
    which tries other encodings."""
    from Orange.data import update_origin
    from Orange.data.io import CSVReader
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            sample = "".join(f.readline() for _ in range(10))
            f.seek(0)
            rows = csv.reader(f, delimiter=_csv_delimiter(sample, CSVReader.DELIMITERS),
                              skipinitialspace=True)
            table = CSVReader.data_table(rows)
    except UnicodeDecodeError:
        return Table.from_file(path)
    table.name = os.path.splitext(os.path.basename(path))[0]
    CSVReader(path).set_table_metadata(path, table)
    update_origin(table, path)
    return table


def _csv_delimiter(sample: str, delimiters: str) -> str:
    """The sniffed delimiter; when the sniffer saw ``'`` as a quote, the comma, semicolon or
    tab most frequent in the header row (a comma when there is none)."""
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters)
    except csv.Error:
        dialect = None
    if dialect is not None and dialect.quotechar == '"':
        return dialect.delimiter
    header = sample.splitlines()[0] if sample else ""
    best = max(",;\t", key=header.count)
    return best if header.count(best) else ","


def _restore_image_column(table: Table) -> None:
    """CSV loses variable attributes; mark a column named ``image`` (or a path-like first
    string column) as the image column again so the next command finds it."""
    for var in (*table.domain.metas, *table.domain.variables):
        if isinstance(var, (StringVariable, DiscreteVariable)) \
                and var.name in ("image", "path", "file"):
            var.attributes.setdefault("type", "image")
            return


def write_table(table: Table, path: str) -> None:
    """Write a table by extension, atomically. CSV gets one plain header row, the image
    column first, then every column (attributes, class, metas) in domain order, times as
    ISO 8601, numbers with 12 significant digits, and text a spreadsheet cannot run as a
    formula (``spreadsheet_safe``). File-name bytes that are not UTF-8 are kept as they
    are in .pkl and shown as ``\\xe9`` escapes in .csv and .tab (``printable``)."""
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
            TabReader.write_file(tmp, _printable_strings(table))


def _write_plain_csv(table: Table, path: str) -> None:
    images = [v for v in table.domain.metas if v.attributes.get("type") == "image"]
    variables = images + [v for v in (*table.domain.variables, *table.domain.metas)
                          if v not in images]
    columns = [table.get_column(v) for v in variables]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([spreadsheet_safe(printable(v.name)) for v in variables])
        for row in zip(*columns) if columns else ():
            writer.writerow([_csv_value(v, x) for v, x in zip(variables, row)])


def _csv_value(var: Variable, value) -> str:
    if isinstance(var, StringVariable):
        return "" if value is None else spreadsheet_safe(printable(str(value)))
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(var, TimeVariable):
        return var.repr_val(value)
    if isinstance(var, ContinuousVariable):
        return f"{float(value):.12g}"
    return spreadsheet_safe(printable(var.str_val(value)))


# --- text that leaves the program ---------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """``text`` that UTF-8 can hold: file-name bytes that are not UTF-8 (which Python
    keeps as surrogate escapes, ``os.fsdecode(b"caf\\xe9")``) shown as ``\\xe9``."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def spreadsheet_safe(text: str) -> str:
    """A CSV text cell that a spreadsheet shows rather than runs (OWASP "CSV injection"):
    a single quote before a leading ``= + - @``, tab or CR; numbers such as ``-3.5`` are
    left alone. Quotes already before such a start get one more, so
    ``from_spreadsheet_text`` gives back exactly the original."""
    if text.lstrip("'")[:1] in FORMULA_STARTS and not _is_number(text):
        return "'" + text
    return text


def from_spreadsheet_text(text: str) -> str:
    """The inverse of ``spreadsheet_safe``."""
    if text[:1] == "'" and text.lstrip("'")[:1] in FORMULA_STARTS:
        return text[1:]
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _from_spreadsheet_text(table: Table) -> Table:
    """A CSV we wrote, read back with the values ``spreadsheet_safe`` changed restored:
    string cells in place, names and discrete values through a new domain when needed."""
    for i, var in enumerate(table.domain.metas):
        if isinstance(var, StringVariable):
            column = table.metas[:, i]
            fixed = [from_spreadsheet_text(x) if isinstance(x, str) else x for x in column]
            if fixed != list(column):
                with table.unlocked(table.metas):
                    table.metas[:, i] = _as_meta_column(fixed)

    def restored(var):
        name = from_spreadsheet_text(var.name)
        if isinstance(var, DiscreteVariable):
            values = [from_spreadsheet_text(v) for v in var.values]
            if name != var.name or values != list(var.values):
                new = DiscreteVariable(name, values=values)
                new.attributes = dict(var.attributes)
                return new
        return var if name == var.name else var.copy(name=name)

    domain = table.domain
    parts = [[restored(v) for v in part]
             for part in (domain.attributes, domain.class_vars, domain.metas)]
    if all(a is b for a, b in zip(parts[0] + parts[1] + parts[2],
                                  (*domain.variables, *domain.metas))):
        return table
    out = Table.from_numpy(Domain(*parts), table.X, table.Y, table.metas, table.W)
    out.name = table.name
    return out


def _printable_strings(table: Table) -> Table:
    """``table``, or a copy whose string cells UTF-8 can hold (``printable``)."""
    strings = [i for i, v in enumerate(table.domain.metas) if isinstance(v, StringVariable)]
    bad = [i for i in strings
           if any(isinstance(x, str) and printable(x) is not x for x in table.metas[:, i])]
    if not bad:
        return table
    table = table.copy()
    with table.unlocked(table.metas):
        for i in bad:
            table.metas[:, i] = _as_meta_column(
                printable(x) if isinstance(x, str) else x for x in table.metas[:, i])
    return table
