"""Venice photos embedded with the bundled SqueezeNet (cached in bench/out/)."""
import csv
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tests.conftest import VENICE  # noqa: E402

OUT = os.path.join(ROOT, "bench", "out")


def venice(layer="pool10"):
    """(features, latitude, longitude, split) for the 2,387 photos, in labels.csv order."""
    with open(os.path.join(VENICE, "labels.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cached = os.path.join(OUT, f"venice-squeezenet-{layer}.npy")
    if os.path.exists(cached):
        features = np.load(cached)
    else:
        from orangecontrib.geophoto.embedders import embed_paths
        paths = [os.path.join(VENICE, "images", r["image"]) for r in rows]
        features = embed_paths(paths, layer=layer).features
        os.makedirs(OUT, exist_ok=True)
        np.save(cached, features)
    lat = np.array([float(r["latitude"]) for r in rows])
    lon = np.array([float(r["longitude"]) for r in rows])
    split = np.array([r["split"] for r in rows])
    return features, lat, lon, split
