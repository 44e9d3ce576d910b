"""Which SqueezeNet feature layer serves users best: pooled conv10 (1000-d, as Image
Analytics) or pooled fire9 (512-d), on the three jobs the example workflows do.

- clustering: adjusted Rand index of Ward clustering (as the workshop workflow's
  Hierarchical Clustering, over cosine distances) against the place folders of the
  workflow photos, and against 8 geographic areas of the Venice photos;
- supervised classification: logistic regression (Orange's default learner settings),
  accuracy over repeated 80/20 splits (as Test and Score in the Lobe-style workflow), on the
  place folders and on the 8 areas;
- geolocation: the Geo Classifier's ``auto`` on the public Venice split.

    .venv/bin/python bench/bench_layers.py [--repeats 20]
"""
import argparse
import glob
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from venice_features import venice  # noqa: E402

LAYERS = ("pool10", "fire9")
AREAS = 8


def place_photos():
    """(paths, place index) of the example workflows' place folders (4 places x 8)."""
    folders = sorted(glob.glob(os.path.join(ROOT, "workflows", "places", "*")))
    paths, labels = [], []
    for i, folder in enumerate(folders):
        for path in sorted(glob.glob(os.path.join(folder, "*.jpg"))):
            paths.append(path)
            labels.append(i)
    return paths, np.array(labels)


def areas(lat, lon, k=AREAS):
    """k geographic areas of the photos (k-means on local metres, fixed seed)."""
    from sklearn.cluster import KMeans
    xy = np.column_stack([lat * 111_000, lon * 111_000 * np.cos(np.radians(lat.mean()))])
    return KMeans(k, n_init=10, random_state=0).fit_predict(xy)


def ward_ari(features, labels):
    """ARI of Ward clustering over cosine distances, cut at the number of labels."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist
    from sklearn.metrics import adjusted_rand_score
    distances = pdist(features, "cosine")
    clusters = fcluster(linkage(distances, "ward"), len(set(labels)), "maxclust")
    return adjusted_rand_score(labels, clusters)


def split_accuracy(features, labels, repeats, seed=0):
    """Logistic regression accuracy over repeated stratified 80/20 splits: (mean, min, max)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit
    splits = StratifiedShuffleSplit(repeats, test_size=0.2, random_state=seed)
    scores = []
    for train, test in splits.split(features, labels):
        model = LogisticRegression(C=1.0, max_iter=2000).fit(features[train], labels[train])
        scores.append(np.mean(model.predict(features[test]) == labels[test]))
    return np.mean(scores), np.min(scores), np.max(scores)


def geolocation(features, lat, lon, split):
    from orangecontrib.geophoto.geolocate.learners import fit_geolocator
    from orangecontrib.geophoto.geolocate.metrics import error_metrics, haversine_km
    train, test = split == "train", split == "test"
    names = [f"n{i}" for i in range(features.shape[1])]
    model = fit_geolocator(features[train], lat[train], lon[train], names, "auto")
    p = model.predict(features[test])
    return error_metrics(haversine_km(lat[test], lon[test], p.latitude, p.longitude) * 1000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    from orangecontrib.geophoto.embedders import embed_paths
    paths, places = place_photos()
    print(f"load {os.getloadavg()[0]:.2f}; {len(paths)} place photos, "
          f"{args.repeats} random 80/20 splits")
    header = (f"{'layer':>6} {'ARI places':>10} {'ARI areas':>9} {'acc places':>17} "
              f"{'acc areas':>17} {'geo mean':>8} {'median':>6} {'<100m':>6} {'<1km':>6}")
    print(header)
    for layer in LAYERS:
        place_features = embed_paths(paths, layer=layer, cache=False).features
        F, lat, lon, split = venice(layer)
        area = areas(lat, lon)
        acc_p = split_accuracy(place_features, places, args.repeats)
        acc_a = split_accuracy(F, area, max(3, args.repeats // 4))
        geo = geolocation(F, lat, lon, split)
        print(f"{layer:>6} {ward_ari(place_features, places):10.2f} "
              f"{ward_ari(F, area):9.3f} "
              f"{acc_p[0]:6.3f} ({acc_p[1]:.2f}-{acc_p[2]:.2f}) "
              f"{acc_a[0]:6.3f} ({acc_a[1]:.2f}-{acc_a[2]:.2f}) "
              f"{geo['mean error (m)']:8.0f} {geo['median error (m)']:6.0f} "
              f"{geo['within 100 m']:6.3f} {geo['within 1 km']:6.3f}")


if __name__ == "__main__":
    main()
