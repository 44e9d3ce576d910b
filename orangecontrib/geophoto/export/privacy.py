"""Which rows go on the map, and privacy before export: coarsen positions so a shared map
of personal photos does not reveal a home, and make sure no column still carries the exact
position, whether as coordinates or as the name of the village next to it."""
from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np

from orangecontrib.geophoto.export.table import (
    LAT_PRED, LATITUDE, LON_PRED, LONGITUDE, columns_by_name, positions,
)
from orangecontrib.geophoto.tables import find_lat_lon, valid_coordinates

METRES_PER_DEGREE = 111_320.0
# columns that would give the exact position away next to a coarsened one
REVEALING = ("place distance (km)", "error (m)", "GPS error (m)")
# ... and any column whose name says it is measured from the exact position
REVEALING_WORDS = ("distance", "time zone", "timezone")


def coarsen(lat: np.ndarray, lon: np.ndarray, grid_m: float = 0, to_place: bool = False):
    """Snap positions to the centre of a grid cell of ``grid_m`` metres (equal-area-ish:
    the longitude step widens with latitude), or move them to the nearest GeoNames place.
    Missing positions stay missing."""
    lat, lon = np.array(lat, dtype=float), np.array(lon, dtype=float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if to_place and ok.any():
        from orangecontrib.geophoto.geocode.places import places
        gazetteer = places()
        index, _ = gazetteer.nearest(lat[ok], lon[ok])
        lat[ok], lon[ok] = gazetteer.latitude[index], gazetteer.longitude[index]
    elif grid_m > 0 and ok.any():
        step_lat = grid_m / METRES_PER_DEGREE
        lat[ok] = np.clip((np.floor(lat[ok] / step_lat) + 0.5) * step_lat, -90, 90)
        step_lon = np.minimum(step_lat / np.maximum(np.cos(np.radians(lat[ok])), 1e-6), 360)
        lon[ok] = (np.floor(lon[ok] / step_lon) + 0.5) * step_lon
        lon[ok] = (lon[ok] + 180) % 360 - 180
    return lat, lon


@dataclass
class Exported:
    """What every writer puts on the map: positions after the privacy option, the rows
    with a possible position, and column values that replace the table's own."""
    lat: np.ndarray
    lon: np.ndarray
    predicted: np.ndarray           # per row: the position is a prediction
    located: np.ndarray             # row indices with a possible position
    without_position: int           # rows with no position at all
    impossible: int                 # rows whose position cannot be on Earth
    replaced: Dict[str, np.ndarray] = field(default_factory=dict)
    hidden: Tuple[str, ...] = ()


def position_status(data):
    """``(lat, lon, predicted, valid, missing)``: a row's position is valid when inside
    +-90 / +-180, missing when a coordinate is missing; the rest are impossible (latitude
    95, longitude 200, infinity) and never go on a map."""
    lat, lon, predicted = positions(data)
    valid = valid_coordinates(np.column_stack([lat, lon]))
    missing = np.isnan(lat) | np.isnan(lon)
    return lat, lon, predicted & valid, valid, missing


def exported_positions(data, options) -> Exported:
    """The one place every export takes its positions and private columns from."""
    lat, lon, predicted, valid, missing = position_status(data)
    lat, lon = np.where(valid, lat, np.nan), np.where(valid, lon, np.nan)
    lat, lon = coarsen(lat, lon, options.privacy_grid_m, options.privacy_to_place)
    exported = Exported(lat, lon, predicted, np.flatnonzero(valid), int(missing.sum()),
                        int((~valid & ~missing).sum()))
    if is_private(options):
        exported.replaced = {**coarsened_columns(data, options),
                             **regeocoded_columns(data, lat, lon)}
        exported.hidden = hidden_columns(data)
    return exported


def is_private(options) -> bool:
    return bool(options.privacy_grid_m > 0 or options.privacy_to_place)


def coarsened_columns(data, options) -> dict:
    """Column name -> coarsened values for every coordinate column (true and predicted),
    so balloons and attribute tables show no more than the map does."""
    if not is_private(options):
        return {}
    columns = columns_by_name(data)
    found = [(v.name, u.name) for v, u in [find_lat_lon(data)] if v is not None]
    replaced = {}
    for lat_name, lon_name in found + [(LATITUDE, LONGITUDE), (LAT_PRED, LON_PRED)]:
        if lat_name in columns and lon_name in columns and lat_name not in replaced \
                and columns[lat_name].is_continuous and columns[lon_name].is_continuous:
            replaced[lat_name], replaced[lon_name] = coarsen(
                data.get_column(columns[lat_name]), data.get_column(columns[lon_name]),
                options.privacy_grid_m, options.privacy_to_place)
    return replaced


def regeocoded_columns(data, lat: np.ndarray, lon: np.ndarray) -> dict:
    """Country, regions and place of the coarsened positions (offline), for the table's
    geocode columns: a place name 1 km from a home would undo a 50 km grid."""
    from orangecontrib.geophoto.geocode import TEXT_COLUMNS, reverse_geocode
    columns = columns_by_name(data)
    present = [name for name in TEXT_COLUMNS
               if name in columns and (columns[name].is_string or columns[name].is_discrete)]
    if not present:
        return {}
    answer = reverse_geocode(lat, lon)
    return {name: answer[name] for name in present}


def hidden_columns(data) -> tuple:
    """Names of columns left out of a private export: errors and distances measured from
    the exact position, time zones."""
    return tuple(name for name in columns_by_name(data)
                 if name in REVEALING or any(w in name.lower() for w in REVEALING_WORDS))
