"""Figures the notebooks share: static ones with matplotlib, interactive ones with plotly.

Each function returns its figure, so a notebook can show, save or tweak it.
"""
from __future__ import annotations

import numpy as np


def _as_display(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return image, ("gray" if image.ndim == 2 else None)


def image_grid(images, labels=None, class_names=None, ncols: int = 8, size: float = 1.4,
               titles=None, title: str | None = None):
    """A grid of images with their class names (notebook 02); ``titles`` overrides the labels."""
    import matplotlib.pyplot as plt

    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img, cmap = _as_display(images[i])
        ax.imshow(img, cmap=cmap, vmin=0, vmax=255 if img.dtype == np.uint8 else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        elif labels is not None:
            label = int(labels[i])
            ax.set_title(class_names[label] if class_names else str(label), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def samples_per_class(x, y, class_names, per_class: int = 8, seed: int = 0, size: float = 1.2):
    """One row per class with ``per_class`` random examples (notebook 02)."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    k = len(class_names)
    fig, axes = plt.subplots(k, per_class, figsize=(per_class * size, k * size), squeeze=False)
    for c in range(k):
        idx = np.flatnonzero(np.asarray(y) == c)
        chosen = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        for j, ax in enumerate(axes[c]):
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if j < len(chosen):
                img, cmap = _as_display(x[chosen[j]])
                ax.imshow(img, cmap=cmap)
        axes[c, 0].set_ylabel(class_names[c], rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def class_balance(y, class_names, title: str = "Images per class", ax=None):
    """Bar chart of how many examples each class has (notebook 02)."""
    import matplotlib.pyplot as plt

    counts = np.bincount(np.asarray(y).astype(int), minlength=len(class_names))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    ax.bar(range(len(class_names)), counts, color="tab:blue")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def history_curves(history, metrics=("accuracy", "loss"), title: str | None = None):
    """Training and validation curves from a Keras ``History`` or its ``.history`` dict (notebook 05)."""
    import matplotlib.pyplot as plt

    hist = getattr(history, "history", history)
    metrics = [m for m in metrics if m in hist]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        epochs = np.arange(1, len(hist[m]) + 1)
        ax.plot(epochs, hist[m], "o-", label="train")
        if f"val_{m}" in hist:
            ax.plot(epochs, hist[f"val_{m}"], "o-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(m)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix_figure(y_true, y_pred, class_names, normalize: str | None = "true", ax=None):
    """Confusion matrix (scikit-learn), normalised per true class by default (notebook 06)."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=list(range(len(class_names))), display_labels=class_names,
        normalize=normalize, values_format=".2f" if normalize else "d", cmap="Blues", ax=ax, colorbar=False)
    ax.set_xticklabels(ax.get_xticklabels(), rotation=45, ha="right")
    ax.figure.tight_layout()
    return ax.figure


def interactive_image_grid(images, labels, class_names, ncols: int = 8, title: str = ""):
    """A plotly grid to hover over pixel values (notebook 02)."""
    import plotly.express as px

    imgs = np.asarray(images)
    if imgs.ndim == 3:
        imgs = imgs[..., None].repeat(3, axis=-1)
    fig = px.imshow(imgs, facet_col=0, facet_col_wrap=ncols, binary_string=False, title=title)
    for i, annotation in enumerate(fig.layout.annotations):
        annotation.text = class_names[int(labels[i])]
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(height=max(250, 160 * int(np.ceil(len(imgs) / ncols))), margin=dict(l=10, r=10, t=40, b=10))
    return fig
