"""Geo Classifier on the Venice split (train on `train`, measure on `test`; every setting is
chosen by cross-validation inside `train`), with the bundled SqueezeNet features; plus
training and prediction time on 10,000 x 1,000 synthetic features.

    .venv/bin/python bench/bench_geolocate.py [--speed]
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from venice_features import venice  # noqa: E402
from orangecontrib.geophoto.geolocate.learners import fit_geolocator  # noqa: E402
from orangecontrib.geophoto.geolocate.metrics import error_metrics, haversine_km  # noqa: E402


def accuracy():
    print(f"{'features':>8} {'method':>10} {'chosen':>34} {'mean m':>7} {'median m':>9} "
          f"{'<100m':>6} {'<1km':>6} {'in 68%':>7} {'fit s':>6}")
    for layer in ("fire9", "pool10"):
        F, lat, lon, split = venice(layer)
        train, test = split == "train", split == "test"
        names = [f"n{i}" for i in range(F.shape[1])]
        centroid = haversine_km(lat[test], lon[test], lat[train].mean(),
                                lon[train].mean()) * 1000
        print(f"{layer:>8} {'centroid':>10} {'':>34} {centroid.mean():7.0f} "
              f"{np.median(centroid):9.0f} {np.mean(centroid <= 100):6.2f}")
        for method in ("auto", "knn", "cells", "regression"):
            start = time.perf_counter()
            model = fit_geolocator(F[train], lat[train], lon[train], names, method)
            fit = time.perf_counter() - start
            p = model.predict(F[test])
            errors = haversine_km(lat[test], lon[test], p.latitude, p.longitude) * 1000
            s = error_metrics(errors)
            chosen = f"{model.method} {model.params}"[:34] if method == "auto" else ""
            print(f"{layer:>8} {method:>10} {chosen:>34} {s['mean error (m)']:7.0f} "
                  f"{s['median error (m)']:9.0f} {s['within 100 m']:6.3f} "
                  f"{s['within 1 km']:6.3f} {np.mean(errors <= p.uncertainty):7.2f} "
                  f"{fit:6.1f}")


def speed(n=10_000, d=1000):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, d))
    which = rng.integers(0, 50, n)
    X = centres[which] + rng.normal(scale=2.0, size=(n, d))
    lat = 45.43 + 0.01 * (which % 10) + rng.normal(scale=0.002, size=n)
    lon = 12.33 + 0.01 * (which // 10) + rng.normal(scale=0.002, size=n)
    start = time.perf_counter()
    model = fit_geolocator(X, lat, lon, [f"n{i}" for i in range(d)], "auto")
    fit = time.perf_counter() - start
    start = time.perf_counter()
    model.predict(X)
    pred = time.perf_counter() - start
    print(f"{n} x {d}: auto training {fit:.1f} s (chose {model.method}), "
          f"predicting {n} photos {pred:.1f} s")


if __name__ == "__main__":
    print(f"load {os.getloadavg()[0]:.2f}")
    if "--speed" in sys.argv:
        speed()
    else:
        accuracy()
        speed()
