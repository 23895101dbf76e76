"""The main job: training on real MNIST, the report folder, and weights that load into PyTorch."""
import json

import numpy as np
import pytest
import torch

import convscope
from convscope import nn, optim
from convscope import functional as F
from convscope.cli import main
from convscope.data import batches, load_mnist
from convscope.io import load_state_dict, save_state_dict
from convscope.train import build_lenet, evaluate, train


def torch_lenet() -> torch.nn.Sequential:
    """The same architecture written in PyTorch."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5, padding=2), torch.nn.BatchNorm2d(16), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 5), torch.nn.BatchNorm2d(32), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(800, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    metrics = train(epochs=1, limit=40, out=out, log=lambda *a: None)
    return out, metrics


def test_short_training_learns_and_writes_the_report(trained):
    out, metrics = trained
    assert metrics["test_accuracy"] > 0.9        # 40 batches of 128 digits are enough for > 90 %
    history = metrics["history"]
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    for name in ("weights.npz", "metrics.json", "summary.txt", "curves.png", "kernels_conv1.png", "digit.png",
                 "feature_maps_0_Conv2d.png", "feature_maps_1_MaxPool2d.png", "feature_maps_2_Conv2d.png",
                 "feature_maps_3_MaxPool2d.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]


def test_saved_weights_give_identical_predictions_in_pytorch(trained):
    out, _ = trained
    state = load_state_dict(out / "weights.npz")
    reference = torch_lenet()
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    reference.eval()
    model = build_lenet()
    model.load_state_dict(state)
    images, labels = load_mnist(split="test")
    _, ours = evaluate(model, images, labels)
    with torch.no_grad():
        logits = torch.cat([reference(torch.from_numpy(images[i:i + 1000])) for i in range(0, len(images), 1000)])
    theirs = logits.argmax(1).numpy()
    assert len(ours) == 10000
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(model(images[:500]), logits[:500].numpy(), rtol=1e-4, atol=1e-4)


def test_loss_falls_on_a_few_hundred_digits():
    convscope.manual_seed(3)
    images, labels = load_mnist(split="train")
    x, y = images[:256], labels[:256]
    model = build_lenet()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for epoch in range(4):
        for xb, yb in batches(x, y, 64, seed=epoch):
            opt.zero_grad()
            loss = F.cross_entropy(model(convscope.Tensor(xb)), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4])


def test_weights_file_is_loaded_without_pickle(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="not a valid .npz weights file"):
        load_state_dict(path)
    with pytest.raises(FileNotFoundError, match="no weights file"):
        load_state_dict(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a valid"):
        load_state_dict(tmp_path / "junk.npz")
    saved = save_state_dict(nn.Linear(3, 2).state_dict(), tmp_path / "ok.npz")
    assert list(load_state_dict(saved)) == ["weight", "bias"]


def test_cli_train_quick_run_and_errors(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--limit", "2", "--out", str(tmp_path / "cli"), "--no-report",
                 "--batch-size", "32"]) == 0
    assert (tmp_path / "cli" / "weights.npz").exists()
    with pytest.raises(SystemExit):
        main(["train", "--epochs", "0"])
    assert "--epochs must be at least 1" in capsys.readouterr().err
