"""Static figures with matplotlib (Agg backend, no display needed)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..nn.module import Module

__all__ = ["require_matplotlib", "save_image_grid", "plot_history", "kernel_grid", "feature_maps"]


def require_matplotlib():
    """Import matplotlib with a headless backend, or raise ImportError saying how to install it."""
    try:
        import matplotlib
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("convscope's pictures need matplotlib: pip install 'convscope[plot]'") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_image_grid(images: np.ndarray, path, title: str = "", cmap: str = "gray", columns: int | None = None,
                    symmetric: bool = False, cell_inches: float = 1.0) -> Path:
    """Draw ``images (K, H, W)`` as a grid of small panels (each scaled to its own range, or to a
    symmetric range around 0 with ``symmetric``) and save a PNG."""
    plt = require_matplotlib()
    images = np.asarray(images, dtype=np.float64)
    count = images.shape[0]
    columns = columns or min(count, 8)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * cell_inches, rows * cell_inches + 0.5),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= count:
            continue
        image = images[k]
        if symmetric:
            bound = float(np.abs(image).max()) or 1.0
            ax.imshow(image, cmap=cmap, vmin=-bound, vmax=bound, interpolation="nearest")
        else:
            ax.imshow(image, cmap=cmap, interpolation="nearest")
        ax.set_title(str(k), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_history(history: dict, path) -> Path:
    """Loss and accuracy curves: ``history`` has ``step`` / ``loss`` / ``accuracy`` lists (training,
    per logged step) and ``epoch`` / ``test_accuracy`` lists."""
    plt = require_matplotlib()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(history["step"], history["loss"], color="tab:blue", linewidth=1)
    left.set_xlabel("training step")
    left.set_ylabel("running loss (cross entropy)")
    left.set_yscale("log")
    left.grid(alpha=0.3)
    right.plot(history["step"], [100 * a for a in history["accuracy"]], color="tab:orange", linewidth=1,
               label="training (epoch so far)")
    if history.get("test_accuracy"):
        steps_per_epoch = history.get("steps_per_epoch", 1)
        right.plot([e * steps_per_epoch for e in history["epoch"]], [100 * a for a in history["test_accuracy"]],
                   "o-", color="tab:green", label="test set")
    right.set_xlabel("training step")
    right.set_ylabel("accuracy (%)")
    right.set_ylim(90, 100)
    right.grid(alpha=0.3)
    right.legend(loc="lower right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def kernel_grid(weight: np.ndarray, path, title: str = "") -> Path:
    """The kernels of a 2-d convolution ``weight (C_out, C_in, kH, kW)``: one panel per output channel
    (the first input channel; blue-white-red, symmetric around 0)."""
    weight = np.asarray(weight)
    return save_image_grid(weight[:, 0], path, title or f"learned kernels {weight.shape}", cmap="bwr",
                           symmetric=True)


def feature_maps(model: Module, image: np.ndarray, folder, layer_types=("Conv2d", "MaxPool2d", "AvgPool2d"),
                 prefix: str = "feature_maps") -> list[Path]:
    """Run ``image (1, C, H, W)`` through ``model`` and save the output channels of every layer whose
    type is in ``layer_types`` as one PNG per layer; returns the paths."""
    captured = []
    handles = [module.register_forward_hook(lambda m, i, o, name=name: captured.append((name, m, np.asarray(o))))
               for name, module in model.named_modules() if type(module).__name__ in layer_types]
    was_training = model.training
    model.eval()
    try:
        model(np.asarray(image))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    folder = Path(folder)
    paths = []
    for index, (name, module, output) in enumerate(captured):
        title = f"after layer {name} ({type(module).__name__}): {output.shape[1]} maps of {output.shape[2:]}"
        paths.append(save_image_grid(output[0], folder / f"{prefix}_{index}_{type(module).__name__}.png", title,
                                     cmap="viridis"))
    return paths
