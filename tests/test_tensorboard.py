"""TensorBoard event files written without TensorFlow, read back by TensorBoard's own reader."""
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from convscope.cli import main
from convscope.viz.tensorboard import SummaryWriter, crc32c


def test_crc32c_check_value():
    assert crc32c(b"123456789") == 0xE3069283 and crc32c(b"") == 0


def test_scalars_and_images_open_in_tensorboard(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(5):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_image("ramp", np.tile(np.linspace(0, 1, 16), (8, 1)), step=4)
        writer.add_image("rgb", np.zeros((4, 6, 3), dtype=np.uint8), step=4)
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["loss"] and sorted(events.Tags()["images"]) == ["ramp", "rgb"]
    loss = events.Scalars("loss")
    assert [e.step for e in loss] == [0, 1, 2, 3, 4] and abs(loss[2].value - 1 / 3) < 1e-6
    ramp = events.Images("ramp")[0]
    assert (ramp.width, ramp.height, ramp.step) == (16, 8, 4) and ramp.encoded_image_string[:4] == b"\x89PNG"


def test_train_writes_tensorboard_events(tmp_path):
    assert main(["train", "--epochs", "1", "--limit", "12", "--batch-size", "64", "--out", str(tmp_path / "run"),
                 "--tensorboard", str(tmp_path / "tb")]) == 0
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert {"train/loss", "train/accuracy", "test/accuracy"} <= set(events.Tags()["scalars"])
    assert "report/kernels_conv1" in events.Tags()["images"] and "report/curves" in events.Tags()["images"]
