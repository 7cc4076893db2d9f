"""Model builders: the reference recipes the course reproduces, and the course's own architectures.

Taught in notebooks 04 (architecture) and 05 (training). Every model ends in a softmax layer that computes in
float32 (``dtype="float32"``), as Keras advises for mixed precision: under ``mixed_float16`` the layers before it
compute in float16, while the probabilities stay float32 (they sum to 1, and the loss is computed in float32).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers


def fashion_reference_cnn(input_shape=(28, 28, 1), num_classes: int = 10) -> keras.Model:
    """The reference Fashion-MNIST CNN (published: 90.84% test accuracy); taught layer by layer in notebook 04.

    Conv(32) → MaxPool → Conv(64) → MaxPool → Flatten → Dropout(0.3) → Dense(128) → Dense(softmax).
    The layers are named (conv1, pool1, ...) so summaries and receptive-field tables read the same everywhere.
    """
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="fashion_reference_cnn")


def cifar_reference_cnn(input_shape=(32, 32, 3), num_classes: int = 10) -> keras.Model:
    """The reference CIFAR-10 CNN (published: about 70% test accuracy).

    Conv(32, same) → MaxPool → Conv(64, same) → MaxPool → Conv(64, same) → Flatten → Dense(64) → Dense(softmax).
    """
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="cifar_reference_cnn")


# --- the course's own architectures -------------------------------------------------------------

#: BatchNorm's moving-average momentum in the course models. Keras' default (0.99) needs several hundred
#: steps before the averages used at inference time forget their initial values (mean 0, variance 1);
#: a quick run of 100-200 steps then scores near chance. 0.9 settles within about 50 steps.
BN_MOMENTUM = 0.9


def _batchnorm(name: str | None = None):
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)


def _conv_bn_relu(x, filters: int, l2: float = 0.0, name: str | None = None):
    """Conv 3×3 with ReLU → BatchNorm.

    BatchNorm after the ReLU (not before) keeps Conv+bias+ReLU one fused operation, which is about
    twice as fast on CPUs, and trains as well.
    """
    reg = keras.regularizers.L2(l2) if l2 else None
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_regularizer=reg,
                      name=f"{name}_conv" if name else None)(x)
    return _batchnorm(f"{name}_bn" if name else None)(x)


def small_cnn(input_shape=(28, 28, 1), num_classes: int = 10, widths=(32, 64), dense: int = 128,
              dropout: float = 0.0, l2: float = 0.0, batchnorm: bool = False, augment=None,
              name: str = "small_cnn") -> keras.Model:
    """The reference Fashion-MNIST layout with switchable remedies: notebook 05 teaches it (the same code),
    compares the remedies with it, and trains the course recipe with it (``train.RECIPES``, ``make bench``).

    One Conv(3×3)+MaxPool per entry of ``widths``, then Flatten → [Dropout] → Dense → softmax.
    ``dropout``, ``l2`` (on conv and dense kernels), ``batchnorm`` (after each conv) and ``augment``
    (a Keras layer applied to the input, active only in training) each switch one remedy on.
    """
    reg = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input(shape=input_shape)
    x = augment(inputs) if augment is not None else inputs
    for i, width in enumerate(widths):
        x = layers.Conv2D(width, 3, activation="relu", kernel_regularizer=reg, name=f"conv{i + 1}")(x)
        if batchnorm:  # after the ReLU, so Conv+ReLU stay one fused (fast) operation
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense, activation="relu", kernel_regularizer=reg)(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_regularizer=reg, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def course_cnn(input_shape=(28, 28, 1), num_classes: int = 10, widths=(32, 64), convs_per_block: int = 2,
               dense: int = 256, dropout: float = 0.4, l2: float = 0.0, augment=None,
               name: str = "course_cnn") -> keras.Model:
    """The course's improved CNN for small grey or colour images (VGG style with BatchNorm).

    Per block: ``convs_per_block`` × (Conv 3×3 same + ReLU → BatchNorm), then MaxPool(2) and light
    dropout; then Flatten → Dropout → Dense(``dense``, ReLU) → BatchNorm → Dropout → softmax.
    """
    inputs = keras.Input(shape=input_shape)
    x = augment(inputs) if augment is not None else inputs
    for b, width in enumerate(widths):
        for c in range(convs_per_block):
            x = _conv_bn_relu(x, width, l2, name=f"block{b + 1}_{c + 1}")
        x = layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
        x = layers.Dropout(dropout / 2, name=f"block{b + 1}_dropout")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense, activation="relu", kernel_regularizer=keras.regularizers.L2(l2) if l2 else None)(x)
    x = _batchnorm()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def course_resnet(input_shape=(32, 32, 3), num_classes: int = 10, widths=(32, 64, 128), residual=(True, False, True),
                  l2: float = 5e-4, augment=None, name: str = "course_resnet") -> keras.Model:
    """A small ResNet ("ResNet-9" style, narrowed for CPUs): the course's CIFAR-10 recipe.

    Stem Conv(widths[0]); then per stage: Conv+ReLU → BN → MaxPool, plus, where ``residual`` says so,
    a residual unit x + (Conv+ReLU → BN)×2; then global max pooling and a softmax layer.
    """
    inputs = keras.Input(shape=input_shape)
    x = augment(inputs) if augment is not None else inputs
    x = _conv_bn_relu(x, widths[0], l2, name="stem")
    for s, (width, res) in enumerate(zip(widths, residual)):
        x = _conv_bn_relu(x, width, l2, name=f"stage{s + 1}")
        x = layers.MaxPooling2D(2, name=f"stage{s + 1}_pool")(x)
        if res:
            y = _conv_bn_relu(x, width, l2, name=f"stage{s + 1}_res1")
            y = _conv_bn_relu(y, width, l2, name=f"stage{s + 1}_res2")
            x = layers.Add(name=f"stage{s + 1}_add")([x, y])
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


# --- reading an architecture (notebook 04) ----------------------------------------------------

def parameter_table(model: keras.Model) -> list[dict]:
    """One row per layer: output shape, parameter count, and the arithmetic that gives it.

    Conv2D: (k_h·k_w·c_in + 1)·filters; Dense: (inputs + 1)·units; BatchNorm: 4·channels (2 trained);
    layers without weights: 0.
    """
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = tuple(layer.output.shape[1:])
        count = layer.count_params()
        how = "no weights"
        if isinstance(layer, layers.Conv2D):
            kh, kw = layer.kernel_size
            c_in = layer.input.shape[-1]
            bias = " + 1" if layer.use_bias else ""
            how = f"({kh}·{kw}·{c_in}{bias})·{layer.filters}"
        elif isinstance(layer, layers.Dense):
            bias = " + 1" if layer.use_bias else ""
            how = f"({layer.input.shape[-1]}{bias})·{layer.units}"
        elif isinstance(layer, layers.BatchNormalization):
            how = f"4·{layer.input.shape[-1]} (γ, β trained; mean, variance tracked)"
        elif count:
            how = "see the layer's weights"
        rows.append({"layer": layer.name, "type": type(layer).__name__, "output shape": shape,
                     "parameters": count, "arithmetic": how})
    return rows


def receptive_fields(model: keras.Model) -> list[dict]:
    """Receptive field of one unit after each convolution/pooling layer (input pixels it can see).

    For a chain of layers with kernel k and stride s: r ← r + (k − 1)·j, then the jump j ← j·s
    (j = distance in input pixels between neighbouring units). Layers that do not change the
    geometry (ReLU, BatchNorm, Dropout) are skipped; Flatten/Dense see the whole image.
    """
    r, j, rows = 1, 1, []
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            k, s = layer.kernel_size[0], layer.strides[0]
        elif isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
            k, s = layer.pool_size[0], layer.strides[0]
        else:
            continue
        r, j = r + (k - 1) * j, j * s
        rows.append({"layer": layer.name, "kernel": k, "stride": s, "jump": j, "receptive field": r,
                     "output size": tuple(layer.output.shape[1:3])})
    return rows


# --- the fast CIFAR-10 net (airbench-style, sized for CPUs) -------------------------------------

def whitening_kernel(images, kernel_size: int = 2, eps: float = 3e-5, max_patches: int = 200_000, seed: int = 0):
    """A frozen first convolution that whitens ``kernel_size`` × ``kernel_size`` patches: ``(kernel, bias)``.

    The patches' covariance is ``V diag(λ) Vᵀ``; filter ``i`` is eigenvector ``v_i / sqrt(λ_i + eps)`` and its
    negative (so a ReLU-like activation keeps both signs), the bias subtracts the mean patch. Every output channel
    then has unit variance and the channels are uncorrelated: the net does not have to learn to undo the strong
    correlation of neighbouring pixels first. ``images``: float images in [0, 1], ``(N, H, W, C)``; ``eps`` is
    airbench's 5e-4 for images normalised to unit variance, rescaled to [0, 1] pixels (variance about 1/16).
    """
    images = np.asarray(images, dtype=np.float32)
    n, h, w, c = images.shape
    k = kernel_size
    rng = np.random.default_rng(seed)
    count = min(max_patches, n * (h - k + 1) * (w - k + 1))
    idx, rows, cols = (rng.integers(0, n, count), rng.integers(0, h - k + 1, count), rng.integers(0, w - k + 1, count))
    patches = np.stack([images[idx, rows + i, cols + j] for i in range(k) for j in range(k)], axis=1)  # (P, k*k, C)
    patches = patches.reshape(count, k * k * c).astype(np.float64)
    mean = patches.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches - mean, rowvar=False))
    filters = eigenvectors / np.sqrt(eigenvalues + eps)             # (k*k*C, k*k*C), one filter per column
    filters = np.concatenate([filters, -filters], axis=1)
    kernel = filters.reshape(k, k, c, 2 * k * k * c).astype(np.float32)  # patch order (i, j, channel) = Conv2D's
    bias = -(mean @ filters).astype(np.float32)
    return kernel, bias


def set_whitening(model: keras.Model, images, **kwargs) -> bool:
    """Give ``model``'s layer named ``whiten`` (if it has one) the whitening filters of ``images``; True if so."""
    layer = next((l for l in model.layers if l.name == "whiten"), None)
    if layer is None:
        return False
    layer.set_weights(list(whitening_kernel(images, layer.kernel_size[0], **kwargs)))
    return True


def fast_cnn(input_shape=(32, 32, 3), num_classes: int = 10, widths=(64, 128, 256), whiten: bool = True,
             activation: str = "relu", bn_momentum: float = 0.6, logit_scale: float = 1 / 9, l2: float = 0.0,
             name: str = "fast_cnn") -> keras.Model:
    """The fast CIFAR-10 net: an airbench-style (Keller Jordan, 2024) three-block BatchNorm CNN.

    [frozen 2×2 whitening conv → activation] → per width: Conv 3×3 → MaxPool → BN → act → Conv 3×3 → BN → act;
    then global max pooling → Dense (no bias) → × ``logit_scale`` → softmax (float32). The whitening weights come
    from the training images (:func:`set_whitening`; until then the layer is a plain frozen conv). BatchNorm has
    no scale (the next conv rescales anyway) and keeps fast-moving statistics (``bn_momentum``).
    """
    reg = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input(shape=input_shape)
    x = inputs
    if whiten:
        c = input_shape[-1]
        x = layers.Conv2D(2 * 4 * c, 2, padding="valid", trainable=False, name="whiten")(x)
        x = layers.Activation(activation, name="whiten_act")(x)
    for b, width in enumerate(widths):
        for c_i in range(2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_regularizer=reg,
                              name=f"block{b + 1}_conv{c_i + 1}")(x)
            if c_i == 0:
                x = layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, scale=False, epsilon=1e-5,
                                          name=f"block{b + 1}_bn{c_i + 1}")(x)
            x = layers.Activation(activation, name=f"block{b + 1}_act{c_i + 1}")(x)
    x = layers.GlobalMaxPooling2D(name="pool")(x)
    x = layers.Dense(num_classes, use_bias=False, kernel_regularizer=reg, name="logits")(x)
    x = layers.Rescaling(logit_scale, name="logit_scale")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
