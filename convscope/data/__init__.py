"""Datasets on NumPy: MNIST from the original IDX files, and a mini-batch iterator.

``load_mnist`` checks the files' SHA-256 and parses the raw bytes (no object deserialization); ``batches`` yields
seeded, shuffled ``(x, y)`` mini-batches (``num_batches`` counts them).
"""
from .mnist import (MNIST_MEAN, MNIST_SHA256, MNIST_STD, batches, clear_cache, default_root, load_mnist,
                    num_batches)

__all__ = ["load_mnist", "batches", "num_batches", "default_root", "clear_cache",
           "MNIST_MEAN", "MNIST_STD", "MNIST_SHA256"]
