"""Keras applications with ImageNet weights: ResNet50 (the project's first scripts used it),
ResNet50V2 and MobileNetV2 (Lobe's backbones), InceptionV3 (Image Analytics' server default) and
EfficientNetV2B0.

Weights come from the Keras cache (``$KERAS_HOME/models`` or ``~/.keras/models``); on a
connected machine Keras downloads them there once. Offline, the error names the file and the
folder to put it in.
"""
import os
from dataclasses import dataclass

from orangecontrib.geophoto.embedders.models import LoadedModel, ModelError

BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class KerasApp:
    label: str
    description: str
    constructor: str      # keras.applications.<constructor>
    module: str           # keras.applications.<module>.preprocess_input
    size: int
    weights_file: str
    url_folder: str
    download_mb: int      # size of the weights file, said before a user downloads it

    @property
    def url(self):
        return BASE_URL + self.url_folder + "/" + self.weights_file


KERAS_APPS = {
    "resnet50": KerasApp("ResNet50", "Accurate, slower (2048 features). Downloads 98 MB of "
                         "weights once, so it needs internet the first time.",
                         "ResNet50", "resnet50", 224,
                         "resnet50_weights_tf_dim_ordering_tf_kernels.h5", "resnet", 98),
    "resnet50v2": KerasApp("ResNet50V2", "Accurate, slower (2048 features); Lobe uses it. "
                           "Downloads 98 MB of weights once, so it needs internet the "
                           "first time.", "ResNet50V2", "resnet_v2", 224,
                           "resnet50v2_weights_tf_dim_ordering_tf_kernels.h5", "resnet", 98),
    "mobilenetv2": KerasApp("MobileNetV2", "Small and fast (1280 features); Lobe uses it. "
                            "Downloads 14 MB of weights once, so it needs internet the "
                            "first time.", "MobileNetV2", "mobilenet_v2", 224,
                            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
                            "mobilenet_v2", 14),
    "inceptionv3": KerasApp("InceptionV3", "Accurate, slower (2048 features); the model of "
                            "Image Analytics' online server. Downloads 92 MB of weights once, "
                            "so it needs internet the first time.", "InceptionV3",
                            "inception_v3", 299,
                            "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
                            "inception_v3", 92),
    "efficientnetv2b0": KerasApp("EfficientNetV2B0", "Accurate and fairly quick (1280 "
                                 "features). Downloads 29 MB of weights once, so it needs "
                                 "internet the first time.", "EfficientNetV2B0",
                                 "efficientnet_v2", 224, "efficientnetv2-b0.h5",
                                 "efficientnet_v2", 29),
}


def keras_models_folder() -> str:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def weights_file(key: str, download: bool = True) -> str:
    """Path of the app's ImageNet weights: from the Keras cache, else downloaded by Keras
    (a connected machine only); else a ModelError saying which file to put where."""
    app = KERAS_APPS[key]
    path = os.path.join(keras_models_folder(), app.weights_file)
    if os.path.exists(path):
        return path
    missing = (f"{app.label}'s ImageNet weights are not on this computer: put "
               f"'{app.weights_file}' (from {app.url}) into {keras_models_folder()}")
    if not download:
        raise ModelError(missing, short="Weights not downloaded yet.")
    import keras
    try:
        return keras.utils.get_file(app.weights_file, app.url, cache_subdir="models")
    except Exception as ex:  # no connection, proxy, disk full
        raise ModelError(f"{missing} (download failed: {ex})",
                         short="Cannot download the weights."
                         ) from ex


def load_keras_app(key: str, layer=None, weights="imagenet", on_progress=None,
                   download: bool = True) -> LoadedModel:
    import importlib
    import keras
    import tensorflow as tf
    from orangecontrib.geophoto.embedders.imagenet import imagenet_classes
    app = KERAS_APPS[key]
    if layer not in (None, "avg_pool"):
        raise ModelError(f"{app.label} offers the pooled features ('avg_pool') only")
    source = None if weights is None else weights_file(key, download)
    constructor = getattr(keras.applications, app.constructor)
    try:
        network = constructor(weights=source, include_top=True)
    except (OSError, ValueError) as ex:
        raise ModelError(f"{app.label}: weights file {source} is unreadable ({ex}); "
                         "delete it to download it again",
                         short="The weights file is damaged.") from ex
    preprocess = importlib.import_module(f"keras.applications.{app.module}").preprocess_input
    predictions = network.layers[-1]
    outputs = {"features": predictions.input, "probabilities": predictions.output}
    both = keras.Model(network.input, outputs)

    @tf.function(input_signature=[tf.TensorSpec((None, app.size, app.size, 3), tf.uint8)],
                 reduce_retracing=True)
    def call(images):
        return both(preprocess(tf.cast(images, tf.float32)), training=False)

    def predict(images):
        out = call(tf.convert_to_tensor(images, tf.uint8))
        return out["features"].numpy(), out["probabilities"].numpy()

    tag = "imagenet" if weights == "imagenet" else "random"
    dim = int(predictions.input.shape[-1])
    return LoadedModel(app.label, f"{key}-{tag}-avg_pool", (app.size, app.size), dim,
                       "avg_pool", predict, imagenet_classes(), ("avg_pool",))
