"""The main job's cost in PyTorch: the same LeNet-5-style model, data, epochs, batch size and
optimizer, trained with torch 2.13.0 on the same machine and thread count.

Run: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_train.py`
(add `--convscope` to time `convscope.train.train` in the same run).
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from convscope.data import batches, load_mnist, num_batches
from convscope.ops.allocator import keep_freed_memory
from convscope.train import DEFAULTS


def torch_lenet() -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5, padding=2), torch.nn.BatchNorm2d(16), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 5), torch.nn.BatchNorm2d(32), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(800, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10))


def train_torch(epochs: int, batch_size: int, lr: float, seed: int, step_size: int, gamma: float) -> dict:
    torch.manual_seed(seed)
    started = time.perf_counter()
    train_x, train_y = load_mnist(split="train")
    test_x, test_y = load_mnist(split="test")
    model = torch_lenet()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    accuracy = None
    for epoch in range(1, epochs + 1):
        model.train()
        for x, y in batches(train_x, train_y, batch_size, shuffle=True, seed=seed * 1000 + epoch):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            predicted = torch.cat([model(torch.from_numpy(test_x[i:i + 1000])).argmax(1)
                                   for i in range(0, len(test_x), 1000)]).numpy()
        accuracy = float((predicted == test_y).mean())
        print(f"torch epoch {epoch}: test accuracy {100 * accuracy:.2f}% ({time.perf_counter() - started:.1f} s)")
    return {"seconds": time.perf_counter() - started, "test_accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("epochs", "batch_size", "seed", "step_size"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=DEFAULTS[name])
    parser.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    parser.add_argument("--gamma", type=float, default=DEFAULTS["gamma"])
    parser.add_argument("--convscope", action="store_true", help="also time convscope's training")
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's default mmap/trim thresholds (convscope's command line sets them)")
    args = parser.parse_args()
    tuned = not args.default_malloc and keep_freed_memory()  # for both libraries, as `convscope train` does
    torch.set_num_threads(os.cpu_count())
    steps = num_batches(60000, args.batch_size, False, None)
    print(f"{args.epochs} epochs x {steps} steps of {args.batch_size}, Adam lr {args.lr}, StepLR({args.step_size}, "
          f"{args.gamma}); torch {torch.__version__} with {torch.get_num_threads()} threads; malloc: "
          f"{'freed memory kept' if tuned else 'glibc defaults'}")
    result = train_torch(args.epochs, args.batch_size, args.lr, args.seed, args.step_size, args.gamma)
    print(f"torch: {result['seconds']:.1f} s, test accuracy {100 * result['test_accuracy']:.2f}%")
    if args.convscope:
        from convscope.train import train
        time.sleep(1.0)
        metrics = train(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                        step_size=args.step_size, gamma=args.gamma, out="runs/bench", report=False,
                        log=lambda *a: None)
        print(f"convscope: {metrics['seconds']:.1f} s, test accuracy {100 * metrics['test_accuracy']:.2f}% "
              f"(ratio {metrics['seconds'] / result['seconds']:.2f})")


if __name__ == "__main__":
    main()
