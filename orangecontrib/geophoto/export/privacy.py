"""Privacy before export: coarsen positions so a shared map of personal photos does not
reveal a home, and make sure no column still carries the exact position."""
import numpy as np

from orangecontrib.geophoto.export.table import (
    LAT_PRED, LATITUDE, LON_PRED, LONGITUDE, columns_by_name, positions,
)
from orangecontrib.geophoto.tables import find_lat_lon

METRES_PER_DEGREE = 111_320.0
# columns that would give the exact position away next to a coarsened one
REVEALING = ("place distance (km)", "error (m)", "GPS error (m)")


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


def exported_positions(data, options):
    """(lat, lon, predicted, located rows): positions after the privacy option, the one
    place both exports take them from."""
    lat, lon, predicted = positions(data)
    lat, lon = coarsen(lat, lon, options.privacy_grid_m, options.privacy_to_place)
    return lat, lon, predicted, np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))


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


def hidden_when_private(options) -> tuple:
    """Names of columns left out of a private export."""
    return REVEALING if is_private(options) else ()
