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


def interactive_image_grid(images, labels, class_names, ncols: int = 8, title: str = ""):
    """A plotly grid to hover over pixel values (notebook 02)."""
    import plotly.express as px

    imgs = np.asarray(images)
    if imgs.ndim == 3:
        imgs = imgs[..., None].repeat(3, axis=-1)
    fig = px.imshow(imgs, facet_col=0, facet_col_wrap=ncols, binary_string=False, title=title)
    for annotation in fig.layout.annotations:  # "facet_col=K"; plotly lays facet rows out bottom-up
        annotation.text = class_names[int(labels[int(annotation.text.split("=")[-1])])]
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(height=max(250, 160 * int(np.ceil(len(imgs) / ncols))), margin=dict(l=10, r=10, t=40, b=10))
    return fig


# --- notebook 06: evaluation figures (appended) ------------------------------------------------

def roc_curves_figure(curves: dict, title: str = "One-vs-rest ROC curves", ax=None):
    """All per-class ROC curves in one figure (notebook 06): ``curves`` is ``{class: {"fpr", "tpr", "auc"}}``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5.5))
    colors = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    for i, (name, curve) in enumerate(curves.items()):
        if len(curve["fpr"]):
            ax.plot(curve["fpr"], curve["tpr"], color=colors(i % colors.N), lw=1.5,
                    label=f"{name} (AUC {curve['auc']:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="chance (AUC 0.5)")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    ax.figure.tight_layout()
    return ax.figure


def misclassified_gallery(images, y_true, proba, indices, class_names, ncols: int = 6, size: float = 1.7,
                          title: str | None = None):
    """Wrongly classified images with true label, prediction and confidence (notebook 06).

    ``indices`` are the images to show, e.g. the wrong predictions sorted by confidence, most confident first.
    """
    import matplotlib.pyplot as plt

    indices = list(indices)
    proba = np.asarray(proba)
    nrows = max(1, int(np.ceil(len(indices) / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.35), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, indices):
        img, cmap = _as_display(images[i])
        ax.imshow(img, cmap=cmap)
        pred = int(proba[i].argmax())
        ax.set_title(f"true: {class_names[int(y_true[i])]}\npred: {class_names[pred]}\n({proba[i, pred]:.0%})",
                     fontsize=8, color="firebrick")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def top_k_figure(image, top, title: str | None = None):
    """An image beside a bar chart of its top-k class probabilities (``[(class, p), ...]``) (notebook 06)."""
    import matplotlib.pyplot as plt

    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(8, 3), gridspec_kw={"width_ratios": [1, 2]})
    img = np.asarray(image)
    if img.ndim == 4:
        img = img[0]
    img, cmap = _as_display(img)
    ax_img.imshow(img, cmap=cmap)
    ax_img.axis("off")
    names = [name for name, _ in top][::-1]
    values = [p for _, p in top][::-1]
    bars = ax_bar.barh(names, values, color=["tab:blue"] * (len(values) - 1) + ["tab:green"])
    ax_bar.bar_label(bars, labels=[f"{v:.1%}" for v in values], padding=3, fontsize=8)
    ax_bar.set_xlim(0, 1.15)
    ax_bar.set_xlabel("probability")
    ax_bar.set_title(title or f"top-{len(top)} predictions")
    fig.tight_layout()
    return fig


def grad_cam_figure(images, heatmaps, titles=None, alpha: float = 0.45, size: float = 2.0,
                    title: str | None = None):
    """Images (top row) and their Grad-CAM heat maps laid over them (bottom row) (notebook 06)."""
    import matplotlib.pyplot as plt


    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(n * size, 2 * size * 1.15), squeeze=False)
    for j in range(n):
        img, cmap = _as_display(images[j])
        axes[0, j].imshow(img, cmap=cmap)
        axes[1, j].imshow(overlay(images[j], heatmaps[j], alpha=alpha))
        axes[0, j].axis("off")
        axes[1, j].axis("off")
        if titles is not None:
            axes[0, j].set_title(titles[j], fontsize=8)
    axes[0, 0].text(-0.1, 0.5, "image", transform=axes[0, 0].transAxes, rotation=90, va="center", ha="right")
    axes[1, 0].text(-0.1, 0.5, "Grad-CAM", transform=axes[1, 0].transAxes, rotation=90, va="center", ha="right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def accuracy_by_train_size(rows, x: str = "per_class", y: str = "test_accuracy", hue: str = "method",
                           chance: float | None = None, title: str | None = None, ax=None):
    """Test accuracy against training-set size, one line per method (notebook 07: scratch vs transfer)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    for method in dict.fromkeys(r[hue] for r in rows):
        pts = sorted((r[x], r[y]) for r in rows if r[hue] == method)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=method)
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", label="chance")
    ax.set_xscale("log")
    xs = sorted({r[x] for r in rows})
    ax.set_xticks(xs, [str(v) for v in xs])
    ax.set_xticks([], minor=True)  # the log scale's own 3×10¹-style ticks would crowd the sizes' labels
    ax.set_xlabel("training images per class (log scale)")
    ax.set_ylabel(y.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def best_so_far_curves(frames: dict, metric: str = "val_accuracy", title: str = "Best validation accuracy so far",
                       noise: float | None = None):
    """Best-so-far ``metric`` against the cumulative epochs (left) and seconds (right) each strategy spent
    (notebook 08). ``frames`` maps a strategy to its trials (columns ``metric``, ``epochs``, ``seconds``, in the
    order they ran). With ``noise`` (the standard error of ``metric``), a band marks the results within twice that
    of the best one: differences inside it are noise."""
    import matplotlib.pyplot as plt


    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    best = max(float(np.nanmax(frame[metric].astype(float))) for frame in frames.values())
    for ax, column, label in zip(axes, ("epochs", "seconds"), ("epochs trained (cumulative)", "seconds (cumulative)")):
        for strategy, frame in frames.items():
            spent = np.cumsum(frame[column].astype(float).fillna(0).to_numpy())
            curve = best_so_far(frame[metric].to_numpy())
            ax.step(spent, curve, where="post", marker="o", ms=3, label=strategy)
        if noise:
            ax.axhspan(best - 2 * noise, best, color="grey", alpha=0.15, lw=0,
                       label="within 2 standard errors of the best")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"best {metric} so far")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def hyperparameter_effects(frame, params, metric: str = "val_accuracy", ncols: int = 3):
    """One panel per hyperparameter: ``metric`` of every trial against its value, coloured by strategy (notebook 08).
    ``frame``: a table with one row per trial; ``params``: its hyperparameter columns."""
    import matplotlib.pyplot as plt


    params = list(params)
    nrows = int(np.ceil(len(params) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.7 * nrows), squeeze=False, sharey=True)
    strategies = list(dict.fromkeys(frame["strategy"])) if "strategy" in frame else [None]
    rng = np.random.default_rng(0)
    for ax, name in zip(axes.flat, params):
        categories = sorted({v for v in frame[name].dropna()}, key=lambda v: (isinstance(v, str), v))
        position = {v: i for i, v in enumerate(categories)}
        for strategy in strategies:
            part = frame if strategy is None else frame[frame["strategy"] == strategy]
            part = part.dropna(subset=[name])
            xs = np.array([position[v] for v in part[name]], dtype=float) + rng.uniform(-0.15, 0.15, len(part))
            ax.scatter(xs, part[metric], s=14, alpha=0.7, label=strategy)
        means = frame.groupby(name)[metric].mean()
        ax.plot([position[v] for v in means.index], means.values, "k_", ms=18, mew=2)
        labels = [f"{v:g}" if isinstance(v, float) else str(v) for v in categories]
        ax.set_xticks(range(len(categories)), labels, rotation=30 if is_log_scale(categories) else 0, fontsize=8)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel(metric)
    if strategies != [None]:
        axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{metric} of every trial against each hyperparameter (black bar: mean)")
    fig.tight_layout()
    return fig


def trials_parallel_coordinates(frame, params, metric: str = "val_accuracy", title: str = "Every trial, one line"):
    """Interactive parallel-coordinates plot of tuning trials (plotly; drag on an axis to filter) (notebook 08).
    ``frame``: a table with one row per trial; ``params``: its hyperparameter columns."""
    import plotly.graph_objects as go


    done = frame.dropna(subset=[metric])
    params = list(params)
    coded = {name: encode_column(done[name]) for name in params}
    dims = []
    for name in params:
        values = sorted(set(done[name].dropna()), key=lambda v: (isinstance(v, str), str(v) if isinstance(v, str) else v))
        ticks = list(encode_column(values)) if values else []
        text = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
        dims.append(dict(label=name + (" (log)" if is_log_scale(values) else ""), values=coded[name],
                         tickvals=ticks, ticktext=text,
                         range=[min(ticks), max(ticks)] if ticks and min(ticks) < max(ticks) else None))
    if "strategy" in done:
        strategies = list(dict.fromkeys(done["strategy"]))
        dims.append(dict(label="strategy", values=done["strategy"].map({s: i for i, s in enumerate(strategies)}),
                         tickvals=list(range(len(strategies))), ticktext=strategies))
    dims.append(dict(label=metric, values=done[metric]))
    fig = go.Figure(go.Parcoords(line=dict(color=done[metric], colorscale="Viridis", showscale=True,
                                           colorbar=dict(title=metric)), dimensions=dims))
    fig.update_layout(title=title, height=420, margin=dict(l=60, r=40, t=60, b=30))
    return fig


def augmentation_grid(image, layers: dict, variants: int = 6, size: float = 1.3, title: str | None = None):
    """One row per augmentation: the original image, then ``variants`` random outputs of the layer (notebook 03).

    ``layers`` maps a row title to a Keras layer (or model) called with ``training=True``; ``image`` is one
    (H, W) or (H, W, C) image, uint8 or float in [0, 1].
    """
    import matplotlib.pyplot as plt

    img = np.asarray(image)
    img = img.astype("float32") / 255.0 if img.dtype == np.uint8 else img.astype("float32")
    batch = (img[..., None] if img.ndim == 2 else img)[None]
    fig, axes = plt.subplots(len(layers), variants + 1, figsize=((variants + 1) * size, len(layers) * size * 1.1),
                             squeeze=False)
    for row, (name, layer) in zip(axes, layers.items()):
        outputs = [batch[0]] + [np.asarray(layer(batch, training=True))[0] for _ in range(variants)]
        for j, (ax, out) in enumerate(zip(row, outputs)):
            shown, cmap = _as_display(np.clip(out, 0.0, 1.0))
            ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_title("original", fontsize=8)
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def receptive_field_figure(names, sizes, starts, image=None, image_size: int | None = None):
    """The receptive field growing layer by layer (notebook 04): nested squares on the input, and their sizes.

    Per layer, ``names[i]`` is its name, ``sizes[i]`` the side of one unit's receptive field in input pixels and
    ``starts[i]`` the input row (= column) where that unit's field begins. ``image`` (H, W) or (H, W, C) is drawn
    under the squares; without it, an empty ``image_size`` × ``image_size`` grid.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if not len(names) == len(sizes) == len(starts):
        raise ValueError(f"names, sizes and starts differ in length: {len(names)}, {len(sizes)}, {len(starts)}")
    if image is None and image_size is None:
        raise ValueError("pass an image or an image_size")
    shown, cmap = _as_display(image) if image is not None else (np.zeros((image_size, image_size)), "gray")
    side = shown.shape[0]
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(len(names), 1)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4), gridspec_kw={"width_ratios": [1, 1.25]})
    left.imshow(shown, cmap=cmap, alpha=0.55 if image is not None else 0.1)
    left.set_xticks(np.arange(-0.5, side, 1), minor=True)
    left.set_yticks(np.arange(-0.5, side, 1), minor=True)
    left.grid(which="minor", color="0.85", linewidth=0.4)
    left.tick_params(which="minor", length=0)
    for name, size, start, colour in zip(names, sizes, starts, colours):
        left.add_patch(Rectangle((start - 0.5, start - 0.5), size, size, fill=False, edgecolor=colour, linewidth=2.2,
                                 label=f"{name}: {size}×{size}"))
    left.set_title(f"what one unit sees of the {side}×{side} input")
    left.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    steps = np.arange(len(names))
    right.plot(steps, sizes, color="0.4", zorder=1)
    right.scatter(steps, sizes, c=colours, s=60, zorder=2)
    for step, size in zip(steps, sizes):
        right.annotate(f"{size}", (step, size), textcoords="offset points", xytext=(0, 8), ha="center")
    right.axhline(side, color="0.5", linestyle="--", linewidth=1)
    right.text(steps[0] if len(steps) else 0, side, f"the whole image ({side} px)", va="bottom", fontsize=8)
    right.set_xticks(steps, names)
    right.set_ylim(0, side * 1.12)
    right.set_ylabel("receptive field (pixels per side)")
    right.set_title("receptive field after each layer")
    fig.tight_layout()
    return fig


# --- notebook 06: one new image, its prediction and its Grad-CAM (appended) --------------------------

def image_prediction_figure(image, top, heatmap, title: str | None = None):
    """A new image as the model sees it, its top-k probabilities and its Grad-CAM map (notebook 06).

    ``image``: ``(H, W[, C])`` or ``(1, H, W, C)`` floats in [0, 1], as prepared for the model; ``top``:
    ``[(class_name, probability), ...]``, the most probable first; ``heatmap``: ``(H, W)`` in [0, 1], the Grad-CAM
    map for the first class of ``top``.
    """
    import matplotlib.pyplot as plt


    img = np.asarray(image, dtype="float32")
    if img.ndim == 4:
        img = img[0]
    shown, cmap = _as_display(img)
    fig, (ax_img, ax_bar, ax_cam) = plt.subplots(1, 3, figsize=(11, 3.2),
                                                 gridspec_kw={"width_ratios": [1, 1.7, 1]})
    ax_img.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0)
    ax_img.set_title(f"as the model sees it ({img.shape[0]}×{img.shape[1]})", fontsize=9)
    names = [name for name, _ in top][::-1]
    values = [float(p) for _, p in top][::-1]
    bars = ax_bar.barh(names, values, color=["tab:blue"] * (len(values) - 1) + ["tab:green"])
    ax_bar.bar_label(bars, labels=[f"{v:.1%}" for v in values], padding=3, fontsize=8)
    ax_bar.set_xlim(0, 1.18)
    ax_bar.set_xlabel("probability")
    ax_bar.set_title(f"top-{len(top)} predictions", fontsize=9)
    ax_cam.imshow(overlay(img, heatmap))
    ax_cam.set_title(f"Grad-CAM for {top[0][0]}", fontsize=9)
    for ax in (ax_img, ax_cam):
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- shared helpers: heat-map overlays and hyperparameter axes --------------------------------------

def overlay(image, heatmap, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """The image in grey or colour with the heat map laid over it: an RGB float array in [0, 1]."""
    import matplotlib

    img = np.asarray(image, dtype="float32")
    if img.ndim == 4:
        img = img[0]
    if np.asarray(image).dtype == np.uint8 or img.max() > 1.0:
        img = img / 255.0
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    heat = np.asarray(heatmap, dtype="float32")
    if heat.shape != img.shape[:2]:
        raise ValueError(f"heat map {heat.shape} and image {img.shape[:2]} differ in size")
    colored = matplotlib.colormaps[cmap](heat)[..., :3]
    return np.clip((1 - alpha) * img + alpha * colored, 0.0, 1.0)



def is_log_scale(values) -> bool:
    """Whether numeric ``values`` span a factor of 10 or more (learning rates, L2 strengths): plot them on a log axis."""
    values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
    positive = [v for v in values if v > 0]
    return len(values) > 0 and len(positive) >= 2 and min(values) >= 0 and max(positive) / min(positive) >= 10


def encode_column(values):
    """One hyperparameter's values as numbers: log10 on a log scale (0 sits a decade below the smallest positive
    value), text and booleans as their position in sorted order, other numbers as they are."""
    values = list(values)
    if any(isinstance(v, (str, bool)) for v in values):
        order = sorted(set(values), key=str)
        return np.array([float(order.index(v)) for v in values])
    numbers = np.array(values, dtype=float)
    if is_log_scale(values):
        smallest = numbers[numbers > 0].min()
        return np.log10(np.maximum(numbers, smallest / 10))
    return numbers


def best_so_far(scores) -> np.ndarray:
    """The running maximum of ``scores`` (NaN, a failed trial, counts as no improvement)."""
    scores = np.asarray(scores, dtype=float)
    if scores.size == 0:
        return scores
    filled = np.where(np.isnan(scores), -np.inf, scores)
    running = np.maximum.accumulate(filled)
    return np.where(np.isinf(running), np.nan, running)
