"""ImageNet-1k class names, shipped with the add-on (no download), and top-k labels."""
import os
from functools import lru_cache
from typing import List, Sequence, Tuple

import numpy as np

CLASSES_FILE = os.path.join(os.path.dirname(__file__), "imagenet_classes.tsv")


@lru_cache(maxsize=1)
def imagenet_classes() -> Tuple[str, ...]:
    """Short names of the 1000 classes in the standard index order (first WordNet lemma,
    e.g. "gondola", "church"), as Keras' decode_predictions names them."""
    names = []
    with open(CLASSES_FILE, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            _, lemmas = line.rstrip("\n").split("\t", 1)
            names.append(lemmas.split(",")[0].strip())
    assert len(names) == 1000, CLASSES_FILE
    return tuple(names)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def top_k(probabilities: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Indices and probabilities of the k most probable classes per row, best first."""
    k = min(k, probabilities.shape[1])
    idx = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
    part = np.take_along_axis(probabilities, idx, axis=1)
    order = np.argsort(-part, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(part, order, axis=1)


def placemark_name(labels: Sequence[str]) -> str:
    """The two best labels joined with " / ", as the photos-to-Google-Earth script names
    its placemarks."""
    return " / ".join(labels[:2])


def label_rows(indices: np.ndarray, probabilities: np.ndarray,
               class_names: Sequence[str]) -> List[List[Tuple[str, float]]]:
    return [[(class_names[i], float(p)) for i, p in zip(row_i, row_p)]
            for row_i, row_p in zip(indices, probabilities)]
