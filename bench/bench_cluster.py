"""The distributed path's overhead: `geophoto exif` and `geophoto embed` on one process vs a
Dask LocalCluster of 1 and 2 workers, side by side in one run.

The Venice photos (../shared/data/venice) are repeated through symlinks in a temporary
folder up to 20,000 files. Each configuration is the whole command in a fresh process, as a
user runs it (start-up, TensorFlow import, cluster start and model loading included), on two
folder sizes: the time of the big one is what a user waits; the steady-state rate, (big -
small) photos over the difference in seconds, cancels the start-up and shows the price per
photo of partitions, tasks and gathering:

    .venv/bin/python bench/bench_cluster.py [--exif 20000] [--embed 20000] [--small 0.25]

Then the same work on warm clusters (started, imports done and models loaded before the
clock starts) against the core in this process: the distributed path's own price per photo,
without the start-up noise of a shared machine (``--warm-only`` runs just that part).

On a 2-core machine the goal is not a speed-up but a small price: at most 15 % slower than
one process.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tests.conftest import VENICE  # noqa: E402


def make_folder(root: str, n: int) -> str:
    """n symlinks to the Venice photos, cycling through them."""
    images = os.path.join(VENICE, "images")
    names = sorted(os.listdir(images))
    folder = os.path.join(root, f"photos-{n}")
    os.makedirs(folder)
    for i in range(n):
        os.symlink(os.path.join(images, names[i % len(names)]),
                   os.path.join(folder, f"{i:05d}.jpg"))
    return folder


def timed(args, root):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2",
           "GEOPHOTO_CACHE_DIR": os.path.join(root, "cache")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "orangecontrib.geophoto.cli", "-q", *args],
                   check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def configurations(command, folder, out):
    extra = ["--no-cache"] if command == "embed" else []
    yield "one process (today's path)", [command, folder, *extra, "-o", out + ".pkl"]
    yield "1 worker (LocalCluster), gathered", [command, folder, *extra, "--workers", "1",
                                                "-o", out + ".pkl"]
    yield "2 workers, gathered", [command, folder, *extra, "--workers", "2", "-o", out + ".pkl"]
    yield "2 workers, Parquet parts by the workers", [command, folder, *extra, "--workers",
                                                      "2", "-o", out + ".parquet"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exif", type=int, default=20000, help="photos for exif")
    parser.add_argument("--embed", type=int, default=20000, help="photos for embed")
    parser.add_argument("--small", type=float, default=0.25,
                        help="the small folder as a fraction of the big one")
    parser.add_argument("--warm-only", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as root:
        if args.warm_only:
            return warm(args, root)
        for command, n in (("exif", args.exif), ("embed", args.embed)):
            if n <= 0:
                continue
            small = max(1, int(n * args.small))
            big_folder, small_folder = make_folder(root, n), make_folder(root, small)
            base = None
            for (label, cmd), (_, cmd_small) in zip(
                    configurations(command, big_folder, os.path.join(root, command)),
                    configurations(command, small_folder, os.path.join(root, command))):
                t_small, t_big = timed(cmd_small, root), timed(cmd, root)
                rate = (n - small) / max(t_big - t_small, 1e-9)
                base = base or (t_big, rate)
                rows.append((command, n, small, label, t_big, t_big / base[0] - 1, rate,
                             base[1] / rate - 1))
                print(f"{command}: {label}: {small} in {t_small:.1f} s, {n} in {t_big:.1f} s",
                      file=sys.stderr)
    load = os.getloadavg()[0]
    print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load {load:.1f}\n")
    print("| command | configuration | photos | time | vs one process | steady rate "
          "(photos) | vs one process |")
    print("|---|---|---|---|---|---|---|")
    for command, n, small, label, seconds, over, rate, rate_over in rows:
        steady = (f"{rate:,.0f}/s ({small:,} → {n:,}) | {rate_over:+.0%}" if rate < 1e6
                  else "n/a: start-up noise larger than the work | n/a")
        print(f"| {command} | {label} | {n:,} | {seconds:.1f} s | {over:+.0%} | {steady} |")
        sys.stdout.flush()
    with tempfile.TemporaryDirectory() as root:
        warm(args, root)


def warm(args, root):
    """Per-photo price on warm clusters: the same partitions and tables, timed after the
    cluster started and every worker ran a first partition (imports, model loaded)."""
    os.environ["GEOPHOTO_CACHE_DIR"] = os.path.join(root, "cache")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from orangecontrib.geophoto import cluster
    from orangecontrib.geophoto.embedders import embed_paths, embedding_table, load_model
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.tables import table_from_paths
    rows = []
    for command, n in (("exif", args.exif), ("embed", args.embed)):
        if n <= 0:
            continue
        folder = make_folder(root, n)
        paths = sorted(os.path.join(folder, f) for f in os.listdir(folder))
        if command == "exif":
            def single():
                return geotag_table(table_from_paths(paths))
            func, extra = cluster.exif_part, (None,)
        else:
            model = load_model("squeezenet")

            def single():
                return embedding_table(paths, embed_paths(paths, model, top_k=5, cache=False),
                                       model)
            func, extra = cluster.embed_part, ("squeezenet", None, 5, 32, False)
        warmup = cluster.path_job(command, func, paths[:64], 32, extra=extra)
        cluster.run_job(warmup)
        start = time.perf_counter()
        single()
        base = time.perf_counter() - start
        rows.append((command, n, "one process, in this process", base, 0))
        for workers in (1, 2):
            with cluster.connect(workers) as client:
                client.wait_for_workers(workers)
                cluster.run_job(warmup, client)  # every worker imports and loads
                client.run(_warm_worker, func, paths[:8], extra)
                for mode in ("gathered", "Parquet parts"):
                    job = cluster.path_job(command, func, paths, cluster.PART_SIZE,
                                           extra=extra)
                    out = os.path.join(root, f"{command}-{workers}.parquet") \
                        if mode != "gathered" else None
                    start = time.perf_counter()
                    summary = cluster.run_job(job, client, out)
                    if summary.results is not None:
                        cluster.concatenate(summary.results)
                    seconds = time.perf_counter() - start
                    rows.append((command, n, f"{workers} worker{'s' * (workers > 1)}, "
                                 f"{mode}", seconds, seconds / base - 1))
                    print(f"warm {command}: {rows[-1][2]}: {seconds:.1f} s", file=sys.stderr)
    print(f"\nwarm clusters, {time.strftime('%Y-%m-%d')}, load {os.getloadavg()[0]:.1f}\n")
    print("| command | photos | configuration | time | rate | vs one process |")
    print("|---|---|---|---|---|---|")
    for command, n, label, seconds, over in rows:
        print(f"| {command} | {n:,} | {label} | {seconds:.1f} s | {n / seconds:,.0f}/s | "
              f"{over:+.0%} |")


def _warm_worker(func, paths, extra):
    """Run on every worker: its imports and model, before the clock starts."""
    func(paths, *extra)


if __name__ == "__main__":
    main()
