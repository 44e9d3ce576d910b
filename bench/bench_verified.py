"""Verified retrieval on the Venice public split: train on `train` (every setting chosen by
cross-validation inside it), measure on `test`; fire9 features. Local features are cached in
bench/out/. Also memory and time per query at 2,000 and 20,000 reference photos (the
training set repeated), projected to 100,000.

    .venv/bin/python bench/bench_verified.py [--scale-only]
"""
import csv
import os
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from venice_features import OUT, VENICE, venice  # noqa: E402
from orangecontrib.geophoto.geolocate.learners import KNNLocator, fit_geolocator  # noqa: E402
from orangecontrib.geophoto.geolocate.metrics import haversine_km  # noqa: E402
from orangecontrib.geophoto.geolocate.verify import (  # noqa: E402
    LocalFeatureCache, LocalStore, local_features, verify_neighbours)


def data():
    F, lat, lon, split = venice("fire9")
    with open(os.path.join(VENICE, "labels.csv"), encoding="utf-8") as f:
        paths = [os.path.join(VENICE, "images", r["image"]) for r in csv.DictReader(f)]
    start = time.perf_counter()
    local, reasons = local_features(paths, LocalFeatureCache(OUT))
    print(f"local features of {len(paths)} photos: {time.perf_counter() - start:.1f} s "
          f"({sum(map(bool, reasons))} unreadable)")
    return F, lat, lon, split, paths, local


def figures(errors, radius, verified):
    """The issue's figures for one group of test photos."""
    if not len(errors):
        return "(none)"
    v, u = verified, ~verified
    cover = lambda m: f"{np.mean(errors[m] <= radius[m]):.2f}" if m.any() else "  - "
    vmed = f"{np.median(errors[v]):5.0f}" if v.any() else "    -"
    return (f"n={len(errors):4d} mean {errors.mean():5.1f} median {np.median(errors):5.1f} "
            f"<100m {np.mean(errors <= 100):.3f} <1km {np.mean(errors <= 1000):.3f} "
            f"verified {v.mean():.2f} median(verified) {vmed} "
            f"median(unverified) {np.median(errors[u]) if u.any() else np.nan:4.0f} "
            f"in 68%: all {cover(np.ones_like(v))} verified {cover(v)} unverified {cover(u)}")


def accuracy(F, lat, lon, split, paths, local):
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    names = [f"n{i}" for i in range(F.shape[1])]
    store = LocalStore([local[i] for i in train])
    print(f"local feature store of {len(train)} training photos: {store.nbytes / 1e6:.0f} MB")
    start = time.perf_counter()
    model = fit_geolocator(F[train], lat[train], lon[train], names, "auto", local=store,
                           paths=[paths[i] for i in train])
    fit = time.perf_counter() - start
    print(f"auto fit (given cached local features): {fit:.0f} s; chose {model.method} "
          f"{model.params}")
    best = [s for s in model.cv_scores.items() if s[0].startswith("verified")]
    for name, s in best:
        print(f"  CV: {name}: mean {s['mean error (m)']:.0f} median "
              f"{s['median error (m)']:.0f} verified {s['verified share']:.2f}")
    start = time.perf_counter()
    p = model.predict(F[test], local=[local[i] for i in test])
    per_query = (time.perf_counter() - start) / len(test)
    base = model.predict(F[test])  # the same model without photos: today's method
    err = haversine_km(lat[test], lon[test], p.latitude, p.longitude) * 1000
    base_err = haversine_km(lat[test], lon[test], base.latitude, base.longitude) * 1000
    ver = np.asarray(p.verified, bool)
    train_coords = set(zip(lat[train], lon[train]))
    dup = np.array([(a, b) in train_coords for a, b in zip(lat[test], lon[test])])
    print(f"prediction: {per_query * 1000:.0f} ms per photo (local features cached)")
    print(f"near-duplicates (exact training coordinate): {dup.sum()} of {len(test)} test photos")
    nover = np.zeros(len(test), bool)
    for label, rows in (("all", np.ones(len(test), bool)), ("without near-dups", ~dup),
                        ("near-dups only", dup)):
        print(f"{label:>18} verified : {figures(err[rows], p.uncertainty[rows], ver[rows])}")
        fallback = figures(base_err[rows], base.uncertainty[rows], nover[rows])
        print(f"{label:>18} fallback : {fallback}")
    worse = err - base_err
    print(f"photos > 500 m worse than the fallback: {np.mean(worse > 500):.3f}; > 500 m "
          f"better: {np.mean(worse < -500):.3f}")
    rng = np.random.default_rng(0)
    boot = [np.median(err[s]) - np.median(base_err[s]) for s in
            (rng.integers(0, len(err), len(err)) for _ in range(1000))]
    bmean = [err[s].mean() - base_err[s].mean() for s in
             (rng.integers(0, len(err), len(err)) for _ in range(1000))]
    print(f"paired bootstrap 95%: median {np.percentile(boot, 2.5):+.0f}..."
          f"{np.percentile(boot, 97.5):+.0f} m, mean {np.percentile(bmean, 2.5):+.0f}..."
          f"{np.percentile(bmean, 97.5):+.0f} m")


def scale(F, lat, lon, split, local, k=60, queries=30):
    """Memory and time per query with N reference photos (the training set repeated)."""
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")[:queries]
    for n in (2000, 20000):
        rows = np.resize(train, n)
        tracemalloc.start()
        store = LocalStore([local[i] for i in rows])
        knn = KNNLocator(k).fit(F[rows], lat[rows], lon[rows])
        memory = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        start = time.perf_counter()
        _, idx = knn.neighbours(F[test], k)
        search = (time.perf_counter() - start) / len(test)
        start = time.perf_counter()
        verify_neighbours([local[q] for q in test], store, idx)
        check = (time.perf_counter() - start) / len(test)
        print(f"{n:6d} references: {memory / 1e6:5.0f} MB (local {store.nbytes / 1e6:.0f} MB,"
              f" embeddings {knn.train.nbytes / 1e6:.0f} MB); per query: search "
              f"{search * 1000:.1f} ms, verification of k={k} {check * 1000:.0f} ms")


if __name__ == "__main__":
    print(f"load {os.getloadavg()[0]:.2f}")
    loaded = data()
    if "--scale-only" not in sys.argv:
        accuracy(*loaded)
    F, lat, lon, split, _, local = loaded
    scale(F, lat, lon, split, local)
