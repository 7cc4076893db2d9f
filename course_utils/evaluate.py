"""Predict with a trained classifier: batched class probabilities, and new image files prepared for a model.

Notebook 06 evaluates with scikit-learn in its own cells (classification report, confusion matrix, ROC AUC);
what stays here is plumbing: :func:`predict_proba` (used by :mod:`course_utils.train` and the bench) and
:func:`load_image_for_model`, which reads an image file of any size and colour mode (notebook 06's "Try it on
your own image"). The figures that go with them are in :mod:`course_utils.plots`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import pipeline


class ImageLoadError(ValueError):
    """An image file exists but cannot be used: the message names the file and the problem."""


# --- probabilities ------------------------------------------------------------------------------

def _model_image_size(model) -> tuple[int, int] | None:
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, list):  # several inputs: not a plain image classifier
        shape = shape[0]
    if shape is None or len(shape) != 4 or shape[1] is None or shape[2] is None:
        return None
    return int(shape[1]), int(shape[2])


#: How far from 1 a row of probabilities may sum: float32 softmax rows are within about 1e-6; float16 ones (a
#: softmax layer computing in float16 under mixed precision) are off by up to about 1e-3 and fail this check.
SUM_TOLERANCE = 1e-4
OUTPUTS = ("probabilities", "logits")


def _as_probabilities(outputs: np.ndarray, kind: str = "probabilities") -> np.ndarray:
    """The model's ``outputs`` as probabilities, as ``kind`` says they are: checked, or put through a softmax.

    One output unit is read as P(class 1) (a sigmoid), or as its logit with ``kind="logits"``.
    """
    if kind not in OUTPUTS:
        raise ValueError(f"outputs must be one of {OUTPUTS}, got {kind!r}")
    outputs = np.asarray(outputs, dtype="float64")
    if outputs.ndim != 2:
        raise ValueError(f"expected model outputs of shape (N, classes), got {outputs.shape}")
    advice = ("A model that ends in logits (no softmax or sigmoid): pass outputs=\"logits\". A softmax that "
              "computes in float16 (mixed precision): give the output layer dtype=\"float32\".")
    if outputs.shape[1] == 1:  # one unit: P(class 1), or its logit
        if kind == "logits":
            outputs = np.exp(-np.logaddexp(0, -outputs))  # a sigmoid that cannot overflow
        elif len(outputs) and (outputs.min() < 0 or outputs.max() > 1):
            raise ValueError(f"the model's one output is not a probability (it ranges over {outputs.min():.3g}.."
                             f"{outputs.max():.3g}). " + advice)
        return np.hstack([1 - outputs, outputs])
    if kind == "logits":
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)
    worst = float(np.abs(outputs.sum(axis=1) - 1).max()) if len(outputs) else 0.0
    if worst > SUM_TOLERANCE or (len(outputs) and outputs.min() < 0):
        raise ValueError(f"the model's outputs are not probabilities: a row's sum is {worst:.1e} away from 1 (at most "
                         f"{SUM_TOLERANCE:g} allowed), or negative values (smallest {outputs.min():.3g}). " + advice)
    return outputs


def shift_images(images: np.ndarray, pixels: int) -> np.ndarray:
    """``images`` (N, H, W[, C]) moved ``pixels`` down and right (negative: up and left), borders reflected."""
    p = abs(pixels)
    if p == 0:
        return images
    pad = [(0, 0), (p, p), (p, p)] + [(0, 0)] * (images.ndim - 3)
    padded = np.pad(images, pad, mode="reflect")
    start = p - pixels  # the window's corner in the padded image
    return np.ascontiguousarray(padded[:, start:start + images.shape[1], start:start + images.shape[2]])


def predict_proba(model, x, batch_size: int = 256, verbose: int = 0, flip_tta: bool = False, *,
                  translate_tta: int = 0, outputs: str = "probabilities") -> np.ndarray:
    """Class probabilities ``(N, num_classes)`` for images ``x``, computed batch by batch.

    ``x`` is either raw images as the data sets hold them (uint8, ``(N, H, W)`` or ``(N, H, W, C)``), which are
    prepared exactly like training data by :func:`course_utils.pipeline.make_dataset` (scaled to [0, 1], resized
    to the model's input size when it differs), or a ``tf.data.Dataset`` of ``(images, labels)`` batches.
    ``outputs`` says what the model returns, nothing is guessed from the values: ``"probabilities"`` (it ends in a
    softmax; rows that do not sum to 1 within :data:`SUM_TOLERANCE` raise a ``ValueError``) or ``"logits"`` (the
    class scores before a softmax, which is applied here).
    ``flip_tta`` (test-time augmentation, arrays only) averages them with the probabilities for the mirrored
    images: at most a few tenths of a point for classes that look the same mirrored, at twice the prediction time.
    ``translate_tta`` (pixels, arrays only) also predicts the images shifted that far up-left and down-right
    (reflected borders, as ``train.TranslateFlip`` shifts them in training) and weighs them a quarter each, the
    unshifted images half (airbench's test-time augmentation): three times the prediction time.
    """
    import tensorflow as tf

    if outputs not in OUTPUTS:
        raise ValueError(f"outputs must be one of {OUTPUTS}, got {outputs!r}")
    if translate_tta:
        if isinstance(x, tf.data.Dataset):
            raise ValueError("translate_tta needs an array of images, not a tf.data.Dataset")
        x = np.asarray(x)
        views = [predict_proba(model, view, batch_size, verbose, flip_tta, outputs=outputs)
                 for view in (x, shift_images(x, -translate_tta), shift_images(x, translate_tta))]
        return views[0] / 2 + (views[1] + views[2]) / 4
    if flip_tta:
        if isinstance(x, tf.data.Dataset):
            raise ValueError("flip_tta needs an array of images, not a tf.data.Dataset")
        x = np.asarray(x)
        mirrored = np.ascontiguousarray(x[:, :, ::-1])  # the width axis, with or without a channel axis
        return (predict_proba(model, x, batch_size, verbose, outputs=outputs)
                + predict_proba(model, mirrored, batch_size, verbose, outputs=outputs)) / 2
    if isinstance(x, tf.data.Dataset):
        ds, n = x, None
    else:
        x = np.asarray(x)
        if x.ndim not in (3, 4):
            raise ValueError(f"expected a batch of images (N, H, W) or (N, H, W, C), got shape {x.shape}")
        n = len(x)
        if n > batch_size and n % batch_size:
            # blank images fill the last batch, so that every batch has the same shape: a shorter last batch would
            # trace the model's predict function a second time (TensorFlow warns when that recurs model after model)
            x = np.concatenate([x, np.zeros((batch_size - n % batch_size, *x.shape[1:]), x.dtype)])
        size = _model_image_size(model)
        resize = None
        if size is not None and tuple(x.shape[1:3]) != size:
            if size[0] != size[1]:
                raise ValueError(f"images are {x.shape[1:3]} but the model takes {size}; resize them first")
            resize = size[0]
        no_labels = np.zeros(len(x), dtype="int64")  # (images, labels) batches either way: one trace for both
        if x.dtype != np.uint8:  # already scaled floats: only batch them
            ds = tf.data.Dataset.from_tensor_slices((pipeline.add_channel_axis(x).astype("float32"), no_labels))
            if resize:
                ds = ds.map(lambda im, label: (tf.image.resize(im, (resize, resize)), label))
            ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        else:
            ds = pipeline.make_dataset(x, no_labels, batch_size=batch_size, image_size=resize, cache=False)
    return _as_probabilities(model.predict(ds, verbose=verbose)[:n], outputs)  # without the blank images


# --- new image files ----------------------------------------------------------------------------

def _target_shape(input_shape) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) == 4:  # model.input_shape: (None, H, W, C)
        shape = shape[1:]
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or any(s is None for s in shape) or shape[2] not in (1, 3):
        raise ValueError(f"input_shape must be (H, W, C) with C = 1 (grey) or 3 (RGB), or a model's "
                         f"(None, H, W, C); got {input_shape}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def _to_mode(img, channels: int, background, path: Path):
    """Convert any PIL mode to "L" (grey) or "RGB", compositing transparency onto ``background``."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):  # 16-bit, 32-bit or float grey
        arr = np.asarray(img, dtype="float64")
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        img = img.convert("RGBA")
        canvas = Image.new("RGBA", img.size, background)
        img = Image.alpha_composite(canvas, img)
    try:
        return img.convert("L" if channels == 1 else "RGB")
    except (ValueError, OSError) as exc:
        raise ImageLoadError(f"{path}: cannot convert image mode {img.mode!r} to "
                             f"{'grey' if channels == 1 else 'RGB'} ({exc})") from exc


def load_image_for_model(path, input_shape, keep_aspect: bool = False, background="black") -> np.ndarray:
    """Read an image file and prepare it like the training images: a ``(1, H, W, C)`` float32 batch in [0, 1].

    - any size: resized to the model's ``H x W`` (stretched, or with ``keep_aspect=True`` padded with
      ``background``);
    - any mode: grey, RGB, RGBA, palette, 16-bit...: converted to the model's channels (1: grey, 3: RGB);
      transparent pixels are laid on ``background`` (black, like the Fashion-MNIST background);
    - the EXIF orientation of phone photos is applied.

    ``input_shape`` is ``(H, W, C)`` or a model's ``input_shape`` ``(None, H, W, C)``. A missing file raises
    ``FileNotFoundError``, a file that is not a readable image :class:`ImageLoadError`; both name the file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    height, width, channels = _target_shape(input_shape)
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such image file")
    if not path.is_file():
        raise ImageLoadError(f"{path}: not a file (a directory?); give the path of one image")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path}: not an image file Pillow can read (PNG, JPEG, ...)") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt image data
        raise ImageLoadError(f"{path}: corrupt or truncated image ({exc})") from exc
    if img.width == 0 or img.height == 0:
        raise ImageLoadError(f"{path}: empty image ({img.width}x{img.height})")
    img = _to_mode(img, channels, background, path)
    if img.size != (width, height):
        if keep_aspect:
            img = ImageOps.pad(img, (width, height), method=Image.Resampling.BILINEAR, color=background)
        else:
            img = img.resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(img, dtype="float32") / 255.0
    return array.reshape(1, height, width, channels)
