"""The main job: train a LeNet-5-style CNN on MNIST and write a report folder.

``convscope train`` (and ``make demo``) runs :func:`train` with the defaults below.  The model is
LeNet-5's layout (two 5x5 convolutions, each followed by 2x2 max pooling, then three fully
connected layers 120-84-10) with wider convolutions (16 and 32 channels) and batch normalization,
trained with Adam and a step learning-rate schedule.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from . import functional as F
from . import nn, optim
from .autograd import Tensor, no_grad
from .data import batches, load_mnist, num_batches
from .io import save_state_dict
from .random import manual_seed
from .summary import summary

__all__ = ["build_lenet", "train", "evaluate", "DEFAULTS"]

DEFAULTS = dict(epochs=3, batch_size=128, lr=2e-3, seed=0, out="runs/mnist", limit=None, step_size=2, gamma=0.1)


def build_lenet(dtype=np.float32) -> nn.Sequential:
    """LeNet-5-style CNN for ``(N, 1, 28, 28)`` digits -> ``(N, 10)`` logits.

    The same layers in PyTorch (``torch.nn`` with identical arguments) have the same
    ``state_dict`` keys and shapes, so saved weights load there unchanged.
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2, dtype=dtype), nn.BatchNorm2d(16, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, dtype=dtype), nn.BatchNorm2d(32, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 5 * 5, 120, dtype=dtype), nn.ReLU(),
        nn.Linear(120, 84, dtype=dtype), nn.ReLU(),
        nn.Linear(84, 10, dtype=dtype),
    )


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> tuple[float, np.ndarray]:
    """Accuracy and predicted classes of ``model`` (evaluation mode, no graph) on a dataset."""
    model.eval()
    predictions = []
    with no_grad():
        for start in range(0, len(images), batch_size):
            predictions.append(np.argmax(model(images[start:start + batch_size]), axis=1))
    predicted = np.concatenate(predictions)
    return float((predicted == labels).mean()), predicted


class _Progress:
    """A one-line progress bar (redrawn in place on a terminal, printed every 10% otherwise)."""

    def __init__(self, total: int, label: str, stream=sys.stderr):
        self.total, self.label, self.stream = total, label, stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.start = time.perf_counter()
        self.last_printed = -1

    def update(self, done: int, text: str) -> None:
        decile = done * 10 // self.total
        if not self.tty and (decile == self.last_printed or (done != self.total and decile == 0)):
            return
        self.last_printed = decile
        width = 24
        filled = width * done // self.total
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {text} {rate:.1f} it/s"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def train(epochs: int = 3, batch_size: int = 128, lr: float = 2e-3, seed: int = 0, out="runs/mnist",
          limit: int | None = None, step_size: int = 2, gamma: float = 0.1, report: bool = True,
          log=print, tensorboard=None) -> dict:
    """Train :func:`build_lenet` on MNIST's 60,000 training digits and evaluate on the 10,000 test digits.

    ``limit`` caps the training batches per epoch (quick runs).  Writes to ``out``: ``weights.npz``
    (the state dict), ``metrics.json``, ``summary.txt`` and, with matplotlib installed, the PNGs
    ``curves.png``, ``kernels_conv1.png``, ``digit.png`` and ``feature_maps_*.png``.  With ``tensorboard``
    (a folder) it also writes TensorBoard event files: the running loss and accuracy, the test accuracy
    per epoch, and the report's pictures.  Returns the metrics.
    """
    started = time.perf_counter()
    manual_seed(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_x, train_y = load_mnist(split="train")
    test_x, test_y = load_mnist(split="test")
    model = build_lenet()
    model_summary = summary(model, (batch_size, 1, 28, 28))
    log(f"model: LeNet-5-style CNN, {model_summary.total_params:,} parameters\n{model_summary}")
    (out / "summary.txt").write_text(f"{model}\n\n{model_summary}\n")

    optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    steps_per_epoch = num_batches(len(train_x), batch_size, drop_last=False, limit=limit)
    history = {"step": [], "loss": [], "accuracy": [], "epoch": [], "test_accuracy": [],
               "steps_per_epoch": steps_per_epoch}
    writer = None
    if tensorboard is not None:
        from .viz.tensorboard import SummaryWriter
        writer = SummaryWriter(tensorboard)
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        progress = _Progress(steps_per_epoch, f"epoch {epoch}/{epochs}")
        running_loss, running_correct, running_seen = None, 0, 0
        for index, (x, y) in enumerate(batches(train_x, train_y, batch_size, shuffle=True, seed=seed * 1000 + epoch,
                                               limit=limit), start=1):
            optimizer.zero_grad()
            logits = model(Tensor(x))
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            step += 1
            value = loss.item()
            running_loss = value if running_loss is None else 0.95 * running_loss + 0.05 * value
            running_correct += int((np.argmax(logits.data, axis=1) == y).sum())
            running_seen += len(y)
            if index % 10 == 0 or index == steps_per_epoch:
                history["step"].append(step)
                history["loss"].append(running_loss)
                history["accuracy"].append(running_correct / running_seen)
                if writer is not None:
                    writer.add_scalar("train/loss", running_loss, step)
                    writer.add_scalar("train/accuracy", running_correct / running_seen, step)
            progress.update(index, f"loss {running_loss:.4f} acc {100 * running_correct / running_seen:.2f}%")
        scheduler.step()
        accuracy, _ = evaluate(model, test_x, test_y)
        history["epoch"].append(epoch)
        history["test_accuracy"].append(accuracy)
        if writer is not None:
            writer.add_scalar("test/accuracy", accuracy, step)
        log(f"epoch {epoch}: test accuracy {100 * accuracy:.2f}% ({time.perf_counter() - started:.0f} s)")

    weights = save_state_dict(model.state_dict(), out / "weights.npz")
    seconds = time.perf_counter() - started
    metrics = {"test_accuracy": history["test_accuracy"][-1] if history["test_accuracy"] else None,
               "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "limit": limit,
               "seconds": round(seconds, 1), "parameters": model_summary.total_params, "history": history}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    log(f"saved weights to {weights}")
    pictures = _write_report(model, history, test_x, test_y, out, log) if report else []
    if writer is not None:
        for path in pictures:
            writer.add_image_file(f"report/{path.stem}", path, step)
        writer.close()
        log(f"TensorBoard events: {writer.path}")
    log(f"done in {seconds:.0f} s: test accuracy {100 * metrics['test_accuracy']:.2f}% on 10,000 test images")
    return metrics


def _write_report(model, history, test_x, test_y, out: Path, log) -> list[Path]:
    try:
        from . import viz
        viz.require_matplotlib()
    except ImportError as error:
        log(f"report pictures skipped: {error}")
        return []
    paths = [viz.plot_history(history, out / "curves.png"),
             viz.kernel_grid(model[0].weight.data, out / "kernels_conv1.png",
                             "first convolution: 16 learned 5x5 kernels"),
             viz.save_image_grid(test_x[:1, 0], out / "digit.png", f"test digit 0 (label {test_y[0]})",
                                 columns=1, cell_inches=2.5)]
    paths += viz.feature_maps(model, test_x[:1], out)
    log("report: " + ", ".join(str(p) for p in paths))
    return paths
