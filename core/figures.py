"""Labelled plots for TensorBoard's Images tab, drawn with matplotlib (``SummaryWriter.add_figure``).

``dpzoo.media`` builds raw images with torch alone (filter grids, sample
tiles); a plot a reader must interpret needs axes, tick labels and a title
that says what it shows, which is matplotlib's job. Figures are built on
``matplotlib.figure.Figure`` directly, not through ``pyplot``: no global
figure state, no GUI backend, safe in a training process without a display.
``add_figure`` renders and closes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def confusion_matrix(counts: Any, class_names: Sequence[str] | None = None, split: str = "validation") -> Any:
    """A ``Figure`` of a [K, K] count matrix (rows: true class, columns: predicted).

    Cells are shaded by the row's share (per-class recall on the diagonal) and
    annotated with their counts, empty cells left blank; the title names the
    split, its size and accuracy.
    """
    import numpy as np
    from matplotlib.figure import Figure

    counts = np.asarray(counts.detach().cpu() if hasattr(counts, "detach") else counts, dtype=np.int64)
    k = counts.shape[0]
    names = [str(n) for n in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for a {k} x {k} matrix")
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    total = int(counts.sum())
    accuracy = np.trace(counts) / max(total, 1)

    size = min(10.0, max(5.0, 2.5 + 0.45 * k))  # 5 inches at least: room for the title
    width, height = size + 1.2, size
    # margins in inches from the longest class name, not layout="constrained": measuring every text to place
    # the axes doubled the drawing time (about 180 -> 90 ms for 10 classes)
    longest = max(map(len, names))
    rotated = longest > 2
    left = 0.6 + 0.075 * longest
    bottom = 0.55 + (0.055 * longest if rotated else 0.1)
    top, right = 0.45, 1.25  # the title; the colour bar, its ticks and label
    box = (left / width, bottom / height, (width - left - right) / width, (height - bottom - top) / height)
    figure = Figure(figsize=(width, height), dpi=100)
    axes = figure.add_axes(box)
    shading = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    bar = figure.add_axes(((width - right + 0.15) / width, box[1], 0.2 / width, box[3]))
    figure.colorbar(shading, cax=bar, label="share of the true class")
    axes.set_xticks(range(k), names, rotation=45 if rotated else 0, ha="right" if rotated else "center")
    axes.set_yticks(range(k), names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"{split} confusion matrix ({total} examples, accuracy {accuracy:.1%})")
    if k <= 30:  # beyond that the numbers no longer fit their cells
        for i, j in zip(*np.nonzero(counts)):  # an empty cell stays blank: a good model's are most of them
            colour = "white" if share[i, j] > 0.5 else "black"
            axes.text(j, i, str(counts[i, j]), ha="center", va="center", color=colour, fontsize=8)
    return figure
