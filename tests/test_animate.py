"""Animations: frame counts, the colour of known cells in chosen frames, and every output format."""
import numpy as np
import pytest
from PIL import Image

from convscope import functional as F
from convscope.cli import main
from convscope.viz.animate import COLORS, animate


def colour(anim, frame, panel, row, col):
    image = anim.render(frame)
    return image.getpixel(anim.frames[frame].panels[panel].center(row, col))


def test_conv2d_frames_show_window_padding_and_output():
    anim = animate("conv2d", (5, 5), 3, stride=2, padding=1)
    assert len(anim) == 9                                  # one frame per output position (3 x 3)
    assert colour(anim, 0, 0, 0, 0) == COLORS["window"]   # a padding cell inside the first window
    assert colour(anim, 0, 0, 1, 1) == COLORS["window"]   # input (0, 0)
    assert colour(anim, 0, 0, 0, 4) == COLORS["padding"]  # padding outside the window
    assert colour(anim, 0, 0, 3, 3) == COLORS["input"]
    assert colour(anim, 0, 2, 0, 0) == COLORS["current"] and colour(anim, 0, 2, 0, 1) == COLORS["empty"]
    assert colour(anim, 4, 0, 2, 2) == COLORS["window"]   # frame 4 = output (1, 1): window starts at (2, 2)
    assert colour(anim, 4, 2, 0, 0) == COLORS["done"] and colour(anim, 4, 2, 1, 1) == COLORS["current"]
    expected = F.conv2d(np.arange(25.0).reshape(1, 1, 5, 5), np.ones((1, 1, 3, 3)), stride=2, padding=1)
    assert anim.frames[4].panels[2].texts[1][1] == "108" == str(int(expected[0, 0, 1, 1]))  # 6+7+8+11+...+18

def test_dilation_holes_and_conv1d():
    anim = animate("conv2d", (5, 5), 3, stride=1, padding=2, dilation=2)
    assert len(anim) == 25
    assert colour(anim, 0, 0, 0, 1) == COLORS["hole"] and colour(anim, 0, 0, 0, 2) == COLORS["window"]
    one = animate("conv1d", 7, 3, stride=2)
    assert len(one) == 3 and colour(one, 1, 0, 0, 2) == COLORS["window"] and colour(one, 1, 0, 0, 1) == COLORS["input"]


def test_transposed_views():
    scatter = animate("conv_transpose2d", (2, 2), 3, stride=2, padding=1, output_padding=1)
    assert len(scatter) == 4                                    # one frame per input element
    assert colour(scatter, 3, 0, 1, 1) == COLORS["window"]
    assert colour(scatter, 3, 2, 1, 1) == COLORS["current"]    # x[1,1] lands at rows/cols 1..3
    direct = animate("conv_transpose2d", (2, 2), 3, stride=2, padding=1, output_padding=1, view="direct")
    assert len(direct) == 16                                    # one frame per output element (4 x 4)
    last = len(direct) - 1
    assert colour(direct, last, 0, 2, 2) == COLORS["inserted"]  # a zero between input elements
    assert colour(direct, last, 0, 1, 1) == COLORS["input"]     # input (0, 0)
    assert colour(direct, 0, 0, 5, 5) == COLORS["padding"]


def test_pooling_ceil_mode_overhang_and_upsample_sources():
    pool = animate("max_pool2d", (5, 5), 2, ceil_mode=True)
    assert len(pool) == 9
    assert colour(pool, 8, 0, 5, 5) == COLORS["window"] and colour(pool, 0, 0, 5, 5) == COLORS["overhang"]
    assert pool.frames[8].panels[1].texts[2][2] == "24"
    up = animate("upsample", (3, 3), mode="bilinear")
    assert len(up) == 36
    assert colour(up, 7, 0, 0, 0) == COLORS["source"] and colour(up, 7, 0, 1, 1) == COLORS["source"]
    unpool = animate("max_unpool2d", (4, 4), 2)
    assert len(unpool) == 4 and colour(unpool, 0, 1, 1, 1) == COLORS["current"]  # max of [[0,1],[4,5]] is 5


def test_formats(tmp_path, capsys):
    anim = animate("conv2d", (4, 4), 3)
    gif = anim.save(tmp_path / "a.gif")
    assert Image.open(gif).n_frames == 4
    apng = anim.save(tmp_path / "a.png")
    assert getattr(Image.open(apng), "n_frames", 1) == 4
    sheet = anim.save(tmp_path / "s.png", sheet=True)
    assert Image.open(sheet).size[0] > Image.open(apng).size[0]
    svg = anim.save(tmp_path / "a.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<rect") == 4 * (16 + 9 + 4)
    assert main(["animate", "conv_transpose2d", "--input", "2x2", "--kernel", "3", "--stride", "2", "--view",
                 "direct", "-o", str(tmp_path / "t.gif")]) == 0
    assert "25 frames" in capsys.readouterr().out   # output (2-1)*2 + 3 = 5 per side, one frame each
    assert main(["animate", "conv2d", "--input", "50x50", "-o", str(tmp_path / "x.gif")]) == 2
    assert "more than 400 cells" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown output format"):
        anim.save(tmp_path / "a.bmp")


def test_html_export_and_values_from_a_file(tmp_path):
    anim = animate("conv2d", (4, 4), 3)
    page = anim.save(tmp_path / "a.html").read_text()
    assert page.startswith("<!doctype html>") and '"frames"' in page and "fetch(" not in page
    (tmp_path / "v.csv").write_text("1,2,3\n4,5,6\n7,8,9\n")
    custom = animate("conv2d", (3, 3), 2, values=str(tmp_path / "v.csv"))
    assert custom.frames[0].panels[0].texts[1][1] == "5" and custom.frames[-1].panels[2].texts[1][1] == "28"
    np.save(tmp_path / "v.npy", np.arange(6.0).reshape(2, 3))
    assert animate("conv2d", (2, 3), 2, values=str(tmp_path / "v.npy")).frames[0].panels[0].texts[1][2] == "5"
    with pytest.raises(ValueError, match=r"holds an array of shape \(3, 3\), but the input size is \(4, 4\)"):
        animate("conv2d", (4, 4), 3, values=str(tmp_path / "v.csv"))


def test_channel_groups_view():
    anim = animate("conv2d", (3, 3), 2, in_channels=4, out_channels=2, groups=2)
    assert len(anim) == 2 * 4                       # output channels x positions
    # frame 5 = output channel 1 (group 1), position (0, 1): channels 2 and 3 show the window
    assert colour(anim, 5, 0, 0, 1) == COLORS["idle"] and colour(anim, 5, 1, 0, 1) == COLORS["idle"]
    assert colour(anim, 5, 2, 0, 1) == COLORS["window"] and colour(anim, 5, 3, 1, 2) == COLORS["window"]
    assert colour(anim, 5, 2, 2, 0) == COLORS["input"]
    outputs = anim.frames[5].panels[-2:]
    assert outputs[1].texts[0][1] == "2024"          # 201+202+204+205 + 301+302+304+305
    assert outputs[0].colors[1][1] == "done" and outputs[1].colors[1][0] == "empty"
    with pytest.raises(ValueError, match="groups=3 must divide"):
        animate("conv2d", (3, 3), 2, in_channels=4, out_channels=2, groups=3)
