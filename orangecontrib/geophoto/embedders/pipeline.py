"""Photos to feature vectors: decoding in threads overlapped with batched inference.

Decoding and resizing (Pillow, which releases the GIL) run in a small thread pool a few
batches ahead of TensorFlow, so both cores stay busy; only that window of decoded images is
ever in memory, whatever the number of photos. Every photo gets a row: one that cannot be
read has NaN features and a reason.
"""
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from orangecontrib.geophoto.embedders.cache import TOP_STORED, EmbeddingCache, content_key
from orangecontrib.geophoto.embedders.imagenet import label_rows, top_k
from orangecontrib.geophoto.images import (  # noqa: F401 (ImageError: part of the API)
    MAX_FILE_BYTES, ImageError, open_image, read_bytes,
)
from orangecontrib.geophoto.progress import check_stop, no_progress


@dataclass
class Embeddings:
    """Per path: features (NaN rows for failures), error reasons ("" when fine) and, for
    models with classes, the top labels as (name, probability) lists."""
    features: np.ndarray
    errors: List[str]
    labels: Optional[List[Optional[List[Tuple[str, float]]]]]


def read_file(path: Optional[str]) -> bytes:
    """The bytes of a regular local file (never a FIFO, device or URL); ImageError with
    the reason otherwise."""
    return read_bytes(path, MAX_FILE_BYTES)


def decode_image(data: bytes, size: Tuple[int, int]) -> np.ndarray:
    """RGB uint8 array of ``size`` (width, height): first frame, EXIF orientation applied,
    transparency on white, 16-bit and float images scaled, then squashed to the size as
    Image Analytics does. JPEGs are decoded at a reduced scale when they are much larger."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with open_image(data) as im:
            if im.format == "JPEG":
                im.draft("RGB", size)  # DCT scaling: decode no more pixels than needed
            im = ImageOps.exif_transpose(im)
            im = _to_rgb(im)
            im = im.resize(size, Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except UnidentifiedImageError:
        raise ImageError("not an image file (or an unsupported format)") from None
    except Image.DecompressionBombError as ex:
        raise ImageError(f"refused as a decompression bomb: {ex}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as ex:
        raise ImageError(f"corrupt or truncated image: {str(ex)[:150]}") from None


def _to_rgb(im):
    from PIL import Image
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(np.nanmax(arr)), 1.0)
        arr = np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode != "RGB":
        return im.convert("RGB")
    return im


def load_for_model(path: Optional[str], size: Tuple[int, int], cached: Callable[[str], bool]):
    """(content key, decoded image or None when the cache has it, error reason)."""
    try:
        data = read_file(path)
        key = content_key(data)
        if cached(key):
            return key, None, ""
        return key, decode_image(data, size), ""
    except ImageError as ex:
        return None, None, str(ex)


def run(paths: Sequence[Optional[str]], model, *, batch_size: int = 32, top: int = 0,
        cache: Optional[EmbeddingCache] = None, workers: int = 2,
        on_progress: Callable[[float], None] = None,
        should_stop: Callable[[], bool] = None) -> Embeddings:
    """Embed ``paths`` with a loaded model (``embedders.models.LoadedModel``)."""
    on_progress = on_progress or no_progress
    n = len(paths)
    features = np.full((n, model.dim), np.nan, dtype=np.float32)
    errors = [""] * n
    has_classes = model.class_names is not None
    width = min(TOP_STORED, len(model.class_names)) if has_classes else 0
    top_idx = np.zeros((n, width), np.int32) if has_classes else None
    top_prob = np.full((n, width), np.nan, np.float32) if has_classes else None

    keys: List[Optional[str]] = [None] * n
    known = set()

    def is_cached(key):
        if cache is None:
            return False
        if key in known:
            return True
        hit = cache.get([key])
        if hit:
            feats, idx, prob = hit[key]
            if len(feats) == model.dim and (not has_classes or idx is not None):
                known.add(key)
                return True
        return False

    window = max(2, 3 * batch_size)
    pending, batch = {}, []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        submitted = 0
        for i in range(n):
            while submitted < n and submitted < i + window:
                pending[submitted] = pool.submit(load_for_model, paths[submitted],
                                                 model.input_size, is_cached)
                submitted += 1
            if should_stop is not None and should_stop():
                for future in pending.values():
                    future.cancel()
                check_stop(should_stop)
            key, image, error = pending.pop(i).result()
            keys[i], errors[i] = key, error
            if image is not None:
                batch.append((i, image))
            if len(batch) >= batch_size or (i == n - 1 and batch):
                _infer(model, batch, features, top_idx, top_prob, cache, keys)
                batch = []
            on_progress((i + 1) / max(n, 1))
    if batch:
        _infer(model, batch, features, top_idx, top_prob, cache, keys)
    _fill_from_cache(cache, keys, errors, features, top_idx, top_prob, model.dim)

    labels = None
    if has_classes and top > 0:
        k = min(top, width)
        rows = label_rows(top_idx[:, :k], top_prob[:, :k], model.class_names)
        labels = [None if errors[i] else rows[i] for i in range(n)]
    on_progress(1.0)
    return Embeddings(features, errors, labels)


def _infer(model, batch, features, top_idx, top_prob, cache, keys):
    indices = [i for i, _ in batch]
    images = np.stack([image for _, image in batch])
    feats, probs = model.predict(images)
    features[indices] = feats
    stored = []
    if probs is not None:
        idx, prob = top_k(probs, top_idx.shape[1])
        top_idx[indices], top_prob[indices] = idx, prob
        stored = list(zip(idx, prob))
    if cache is not None:
        cache.put((keys[i], features[i], *(stored[j] if stored else (None, None)))
                  for j, i in enumerate(indices))


def _fill_from_cache(cache, keys, errors, features, top_idx, top_prob, dim):
    if cache is None:
        return
    missing = [i for i, key in enumerate(keys)
               if key is not None and not errors[i] and math.isnan(features[i, 0])]
    found = cache.get(keys[i] for i in missing)
    for i in missing:
        if keys[i] not in found:  # removed by another process meanwhile
            errors[i] = "cached embedding vanished; run again"
            continue
        feats, idx, prob = found[keys[i]]
        features[i] = feats[:dim]
        if top_idx is not None and idx is not None:
            top_idx[i], top_prob[i] = idx, prob
