"""Geo Classifier at scale: approximate nearest neighbours (faiss) over 1,000,000+ real
SqueezeNet references, against exact search.

The references are region features of the Venice training photos: each photo's fire9
feature map (13x13 cells of 512 channels, the layer the Geo Classifier's default embedding
pools) average-pooled over every sub-window of at least 7x7 cells, 784 windows a photo
(the full window is exactly the photo's own fire9 embedding). 1,909 training photos give
1,496,656 references, each the network's view of one crop of a real photo (as R-MAC pools
regions), labelled with its photo's position. The queries are the 478 held-out test
photos' own fire9 embeddings: real photos the index has never seen.

Measured: the kNN locator's fit (centring and normalising, index build, nprobe tuning),
its memory, query time per photo through ``KNNLocator.neighbours`` (index, then exact
re-ranking), recall@10 of its neighbours against exact search (faiss' brute-force inner
product, as IndexFlatIP searches, over the same normalised vectors) and the prediction
error against the exact neighbours' prediction.

    .venv/bin/python bench/bench_ann.py [--photos 1909] [--min-window 7]
    .venv/bin/python bench/bench_ann.py --photos 200 --compare   # other faiss indexes

``--compare`` builds the alternatives on the same references with faiss directly (no
re-ranking): IVF-Flat, IVF-PQ (64 bytes a vector) and HNSW (M=32), each at a few search
settings: build time, memory (serialised size) and recall@10 of the held-out photos.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.venice_features import OUT, venice  # noqa: E402
from tests.conftest import VENICE  # noqa: E402


def fire9_maps():
    """(2387, 13, 13, 512) float32 fire9 maps of the Venice photos, labels.csv order
    (cached in bench/out, 826 MB)."""
    cached = os.path.join(OUT, "venice-squeezenet-fire9-maps.npy")
    if os.path.exists(cached):
        return np.load(cached, mmap_mode="r")
    import csv
    import keras
    from orangecontrib.geophoto.embedders import squeezenet
    from orangecontrib.geophoto.embedders.models import configure_tensorflow, keras_function
    from orangecontrib.geophoto.embedders.pipeline import decode_image, read_file
    configure_tensorflow()
    network = squeezenet.build_model()
    body = keras_function(keras.Model(network.input,
                                      network.get_layer("fire9_concat").output))
    with open(os.path.join(VENICE, "labels.csv"), encoding="utf-8") as f:
        paths = [os.path.join(VENICE, "images", r["image"]) for r in csv.DictReader(f)]
    size = (squeezenet.INPUT_SIZE, squeezenet.INPUT_SIZE)
    maps = np.lib.format.open_memmap(cached + ".part", "w+", np.float32,
                                     (len(paths), 13, 13, 512))
    for start in range(0, len(paths), 32):
        images = np.stack([decode_image(read_file(p), size) for p in paths[start:start + 32]])
        maps[start:start + 32] = body(images)
        print(f"\rfire9 maps: {start + len(images)}/{len(paths)}", end="", file=sys.stderr)
    maps.flush()
    del maps
    os.replace(cached + ".part", cached)
    return np.load(cached, mmap_mode="r")


def windows(size=13, smallest=7):
    """(top, left, height, width) of every sub-window of at least ``smallest`` cells."""
    return [(t, l, h, w) for h in range(smallest, size + 1) for w in range(smallest, size + 1)
            for t in range(size - h + 1) for l in range(size - w + 1)]


def region_features(maps, photos, smallest=7):
    """Each photo's map average-pooled over every window: (len(photos) * windows, 512)."""
    wins = windows(maps.shape[1], smallest)
    out = np.empty((len(photos) * len(wins), maps.shape[3]), np.float32)
    for i, p in enumerate(photos):
        integral = np.zeros((14, 14, maps.shape[3]), np.float64)
        integral[1:, 1:] = np.asarray(maps[p], np.float64).cumsum(0).cumsum(1)
        for j, (t, l, h, w) in enumerate(wins):
            total = (integral[t + h, l + w] - integral[t, l + w] - integral[t + h, l]
                     + integral[t, l])
            out[i * len(wins) + j] = total / (h * w)
    return out, len(wins)


def compare(train, queries, truth):
    """Build time, size and recall@10 / ms per query of faiss alternatives."""
    import faiss
    from orangecontrib.geophoto.geolocate.ann import recall_at
    n, d = train.shape
    nlist = int(np.sqrt(n))
    sample = train[np.sort(np.random.default_rng(0).choice(n, min(n, 64 * nlist),
                                                             replace=False))]

    def ivf(kind):
        quantizer = faiss.IndexFlatIP(d)
        if kind == "flat":
            return faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        if kind == "pq":
            return faiss.IndexIVFPQ(quantizer, d, nlist, 64, 8, faiss.METRIC_INNER_PRODUCT)
        return faiss.IndexIVFScalarQuantizer(quantizer, d, nlist,
                                             faiss.ScalarQuantizer.QT_8bit,
                                             faiss.METRIC_INNER_PRODUCT)

    print("| index | build s | size MiB | setting | recall@10 | ms/query |")
    print("|---|---|---|---|---|---|")
    for name in ("IVF-Flat", "IVF-SQ8 (no re-ranking)", "IVF-PQ 64x8", "HNSW M=32"):
        start = time.perf_counter()
        if name.startswith("HNSW"):
            index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
        else:
            index = ivf({"IVF-F": "flat", "IVF-S": "sq8", "IVF-P": "pq"}[name[:5]])
            index.train(sample)
        index.add(train)
        build = time.perf_counter() - start
        size = faiss.serialize_index(index).nbytes / 2**20
        settings = [16, 32, 64, 128] if name.startswith("HNSW") else \
            [nlist // 32, nlist // 16, nlist // 8]
        for value in settings:
            if name.startswith("HNSW"):
                index.hnsw.efSearch = value
            else:
                index.nprobe = max(1, value)
            start = time.perf_counter()
            _, found = index.search(queries, 10)
            ms = 1000 * (time.perf_counter() - start) / len(queries)
            setting = f"efSearch {value}" if name.startswith("HNSW") else \
                f"nprobe {max(1, value)}/{nlist}"
            print(f"| {name} | {build:.0f} | {size:,.0f} | {setting} | "
                  f"{recall_at(found, truth):.3f} | {ms:.2f} |", flush=True)


def rss_mib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def main():
    import faiss
    from orangecontrib.geophoto.geolocate.ann import recall_at
    from orangecontrib.geophoto.geolocate.learners import KNNLocator
    from orangecontrib.geophoto.geolocate.metrics import haversine_km
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1909, help="training photos used")
    parser.add_argument("--min-window", type=int, default=7)
    parser.add_argument("--compare", action="store_true",
                        help="also build IVF-Flat, IVF-PQ and HNSW on the same references")
    args = parser.parse_args()
    features, lat, lon, split = venice("fire9")
    maps = fire9_maps()
    full = maps.mean(axis=(1, 2))
    print(f"full-window pooling vs the cached fire9 embedding: max |diff| "
          f"{np.abs(full - features).max():.2e}", flush=True)
    train = np.flatnonzero(split == "train")[:args.photos]
    test = np.flatnonzero(split == "test")
    start = time.perf_counter()
    X, per_photo = region_features(maps, train, args.min_window)
    del maps
    print(f"references: {len(X):,} ({len(train)} photos x {per_photo} windows), made in "
          f"{time.perf_counter() - start:.0f} s; RSS {rss_mib():,.0f} MiB", flush=True)
    rlat, rlon = np.repeat(lat[train], per_photo), np.repeat(lon[train], per_photo)
    before = rss_mib()
    start = time.perf_counter()
    model = KNNLocator(k=10).fit(X, rlat, rlon)
    fit_s = time.perf_counter() - start
    index = model.index
    index_mib = faiss.serialize_index(index.index).nbytes / 2**20
    print(f"fit {fit_s:.0f} s (nlist {index.nlist}, nprobe {index.nprobe}, tuned recall "
          f"{index.recall:.3f}); RSS +{rss_mib() - before:,.0f} MiB (vectors "
          f"{model.train.nbytes / 2**20:,.0f} MiB, index {index_mib:,.0f} MiB)", flush=True)
    del X
    queries = features[test]
    start = time.perf_counter()
    sims, idx = model.neighbours(queries, 10)
    ann_s = time.perf_counter() - start
    Q = model.features.float32(queries)
    start = time.perf_counter()
    exact_sims, exact_idx = faiss.knn(Q, model.train, 10, metric=faiss.METRIC_INNER_PRODUCT)
    exact_s = time.perf_counter() - start
    recall = recall_at(idx, exact_idx)
    if args.compare:
        compare(model.train, Q, exact_idx)
    # at nprobe = all lists the index is exact but for ties: the re-ranking's own check
    ann = model.predict_from_neighbours(sims, idx)
    exact = model.predict_from_neighbours(exact_sims, exact_idx)
    moved = haversine_km(ann.latitude, ann.longitude, exact.latitude, exact.longitude) * 1000
    error_ann = haversine_km(lat[test], lon[test], ann.latitude, ann.longitude) * 1000
    error_exact = haversine_km(lat[test], lon[test], exact.latitude, exact.longitude) * 1000
    print(f"| references | recall@10 | ANN ms/query | exact ms/query | fit s | "
          f"prediction moved (median / 95th pct / max m) | median error ANN / exact (m) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {len(rlat):,} | {recall:.3f} | {1000 * ann_s / len(test):.2f} | "
          f"{1000 * exact_s / len(test):.2f} | {fit_s:.0f} | {np.median(moved):.0f} / "
          f"{np.quantile(moved, 0.95):.0f} / {moved.max():.0f} "
          f"({np.mean(moved < 1):.1%} within 1 m) | "
          f"{np.median(error_ann):.0f} / {np.median(error_exact):.0f} |")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB; "
          f"cpus {os.cpu_count()}, faiss threads {faiss.omp_get_max_threads()}, "
          f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
