"""Animations of convolution arithmetic for any configuration, with the real numbers.

A frame is a list of drawing primitives (coloured cells with optional text) laid out in panels:
the (padded) input, the kernel and the output.  The same primitives are rasterized with Pillow
(GIF, animated PNG, PNG sheet) or written as SVG, so every format shows the same thing, and the
tests can read the colour of any cell from the :class:`Layout`.

Colours (also the legend): input cells, padding cells, inserted zeros (transposed convolution),
dilation holes inside the current window, the current window, the output cell being computed,
output cells already computed, and cells a ceil_mode window hangs over beyond the padding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import arith
from .. import functional as F

__all__ = ["COLORS", "Panel", "Frame", "Animation", "animate_conv", "animate_grouped_conv", "animate_conv_transpose",
           "animate_pool", "animate_upsample", "animate_unpool", "animate", "ANIMATED_OPS"]

COLORS = {
    "background": (255, 255, 255),
    "input": (222, 235, 247),
    "padding": (200, 200, 200),
    "inserted": (255, 236, 179),
    "hole": (236, 226, 240),
    "window": (253, 141, 60),
    "kernel": (158, 202, 225),
    "current": (65, 171, 93),
    "done": (199, 233, 192),
    "empty": (250, 250, 250),
    "overhang": (255, 255, 255),
    "idle": (236, 236, 236),
    "source": (253, 141, 60),
    "grid": (90, 90, 90),
    "text": (20, 20, 20),
}
CELL = 30       # pixels per cell
GAP = 2 * CELL  # between panels
TOP = 34        # room for the title


@dataclass
class Panel:
    """A grid of cells at a pixel offset; ``colors[r][c]`` names a COLORS entry."""
    title: str
    rows: int
    cols: int
    x0: int = 0
    y0: int = TOP + 18
    colors: list = field(default_factory=list)
    texts: list = field(default_factory=list)

    def __post_init__(self):
        if not self.colors:
            self.colors = [["input"] * self.cols for _ in range(self.rows)]
        if not self.texts:
            self.texts = [[""] * self.cols for _ in range(self.rows)]

    @property
    def width(self) -> int:
        return self.cols * CELL

    @property
    def height(self) -> int:
        return self.rows * CELL

    def center(self, row: int, col: int) -> tuple[int, int]:
        """Pixel centre of a cell (for tests and annotations)."""
        return self.x0 + col * CELL + CELL // 2, self.y0 + row * CELL + CELL // 2


@dataclass
class Frame:
    title: str
    panels: list[Panel]

    def size(self, title_chars: int = 0) -> tuple[int, int]:
        width = max(max(p.x0 + p.width for p in self.panels) + CELL, CELL + 7 * (title_chars + len(self.title) + 5))
        height = max(p.y0 + p.height for p in self.panels) + CELL
        return width, height


def _layout_rows(rows: list[list[Panel]]) -> list[Panel]:
    """Panels in rows (inputs, kernels, outputs), each row left to right."""
    y = TOP + 18
    placed = []
    for row in rows:
        x = CELL
        for panel in row:
            panel.x0, panel.y0 = x, y
            x += max(panel.width, 7 * len(panel.title)) + CELL
            placed.append(panel)
        y += max(p.height for p in row) + CELL + 18
    return placed


def _layout(panels: list[Panel]) -> list[Panel]:
    x = CELL
    for panel in panels:
        panel.x0 = x
        x += panel.width + GAP
    return panels


def _fmt(value) -> str:
    """A cell's number in at most 5 characters (6 for tiny negatives), never cut: integers up to
    9999 exactly, others to 2 significant digits below 10, to the unit below 10^4, then with k/M/G."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 10**4:
        return str(int(value))
    if abs(value) < 10:
        return f"{value:.0e}" if abs(value) < 0.01 else f"{value:.2g}"
    if abs(value) < 10**4:
        return f"{value:.0f}"
    for suffix, scale in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        if abs(value) < 999.5 * scale:
            return f"{value / scale:.0f}{suffix}"
    return f"{value:.0e}"


def _values_grid(array: np.ndarray) -> list[list[str]]:
    return [[_fmt(v) for v in row] for row in np.atleast_2d(array)]


class Animation:
    """Frames of one animation; ``save`` writes GIF, APNG (``.png`` with several frames), a PNG sheet
    (``sheet=True``) or an SVG sheet, chosen by the file suffix."""

    def __init__(self, title: str, frames: list[Frame], fps: float = 2.0):
        self.title, self.frames, self.fps = title, frames, fps

    def __len__(self) -> int:
        return len(self.frames)

    def render(self, index: int):
        """Frame ``index`` as a Pillow image."""
        from PIL import Image, ImageDraw
        frame = self.frames[index]
        width, height = self.frame_size()
        image = Image.new("RGB", (width, height), COLORS["background"])
        draw = ImageDraw.Draw(image)
        draw.text((CELL, 8), f"{self.title}  |  {frame.title}", fill=COLORS["text"])
        for panel in frame.panels:
            draw.text((panel.x0, panel.y0 - 16), panel.title, fill=COLORS["text"])
            for r in range(panel.rows):
                for c in range(panel.cols):
                    x, y = panel.x0 + c * CELL, panel.y0 + r * CELL
                    draw.rectangle([x, y, x + CELL - 1, y + CELL - 1], fill=COLORS[panel.colors[r][c]],
                                   outline=COLORS["grid"])
                    text = panel.texts[r][c]
                    if text:
                        draw.text((x + 4, y + CELL // 2 - 6), text, fill=COLORS["text"])
        return image

    def frame_size(self) -> tuple[int, int]:
        sizes = [f.size(len(self.title)) for f in self.frames]
        return max(s[0] for s in sizes), max(s[1] for s in sizes)

    def sheet(self, columns: int = 4):
        """All frames tiled in one image."""
        from PIL import Image
        width, height = self.frame_size()
        rows = -(-len(self.frames) // columns)
        sheet = Image.new("RGB", (width * min(columns, len(self.frames)), height * rows), COLORS["background"])
        for i in range(len(self.frames)):
            sheet.paste(self.render(i), ((i % columns) * width, (i // columns) * height))
        return sheet

    def svg(self, columns: int = 4) -> str:
        """An SVG sheet of all frames (the same cells and numbers as the raster formats)."""
        width, height = self.frame_size()
        rows = -(-len(self.frames) // columns)
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * min(columns, len(self.frames))}" '
                 f'height="{height * rows}" font-family="monospace" font-size="11">']
        for i, frame in enumerate(self.frames):
            ox, oy = (i % columns) * width, (i // columns) * height
            parts.append(f'<g transform="translate({ox},{oy})"><text x="{CELL}" y="18">{_escape(self.title)} | '
                         f'{_escape(frame.title)}</text>')
            for panel in frame.panels:
                parts.append(f'<text x="{panel.x0}" y="{panel.y0 - 6}">{_escape(panel.title)}</text>')
                for r in range(panel.rows):
                    for c in range(panel.cols):
                        x, y = panel.x0 + c * CELL, panel.y0 + r * CELL
                        fill = "rgb({},{},{})".format(*COLORS[panel.colors[r][c]])
                        parts.append(f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{fill}" '
                                     f'stroke="rgb(90,90,90)"/>')
                        if panel.texts[r][c]:
                            parts.append(f'<text x="{x + 4}" y="{y + CELL // 2 + 4}">{_escape(panel.texts[r][c])}</text>')
            parts.append("</g>")
        parts.append("</svg>")
        return "\n".join(parts)

    def save(self, path, sheet: bool = False) -> Path:
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            path.write_text(self.svg())
        elif suffix in (".html", ".htm"):
            path.write_text(self.html())
        elif sheet or len(self.frames) == 1:
            self.sheet().save(path)
        elif suffix in (".gif", ".png", ".apng"):
            images = [self.render(i) for i in range(len(self.frames))]
            images[0].save(path, format="GIF" if suffix == ".gif" else "PNG", save_all=True,
                           append_images=images[1:], duration=int(1000 / self.fps), loop=0)
        else:
            raise ValueError(f"animate: unknown output format {path.suffix!r}: use .gif, .png, .apng, .svg or .html")
        return path

    def to_json(self) -> dict:
        """Frames as plain data (panels of colour names and texts) plus the colour table."""
        frames = [{"title": f.title, "panels": [{"title": p.title, "rows": p.rows, "cols": p.cols,
                                                  "colors": p.colors, "texts": p.texts} for p in f.panels]}
                  for f in self.frames]
        return {"title": self.title, "frames": frames,
                "colors": {k: "rgb({},{},{})".format(*v) for k, v in COLORS.items()}}

    def html(self) -> str:
        """A self-contained page (no server, no network) that plays the animation: play, pause, step."""
        import json
        data = json.dumps(self.to_json()).replace("</", "<\\/")
        return _HTML.replace("__TITLE__", _escape(self.title)).replace("__DATA__", data)

    def _repr_png_(self):  # notebooks show the sheet inline
        import io
        buffer = io.BytesIO()
        self.sheet().save(buffer, format="PNG")
        return buffer.getvalue()


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>body{font-family:system-ui,sans-serif;margin:1.5em}canvas{border:1px solid #ddd}</style></head>
<body><h1>__TITLE__</h1>
<button id="play">play</button><button id="pause">pause</button><button id="step">step</button>
<span id="label"></span><div id="caption"></div><canvas id="canvas"></canvas>
<script>
"use strict";
const anim = __DATA__;
const CELL = 26; let frame = 0, timer = null;
function draw() {
  const f = anim.frames[frame], canvas = document.getElementById("canvas"), ctx = canvas.getContext("2d");
  ctx.font = "11px monospace";
  const widths = f.panels.map(p => Math.max(p.cols * CELL, ctx.measureText(p.title).width + 8));
  canvas.width = CELL + widths.reduce((a, b) => a + b + CELL, 0);
  canvas.height = Math.max(...f.panels.map(p => p.rows * CELL)) + 40;
  ctx.font = "11px monospace";
  let x0 = CELL;
  f.panels.forEach((p, i) => {
    ctx.fillStyle = "#222"; ctx.fillText(p.title, x0, 14);
    for (let r = 0; r < p.rows; r++) for (let c = 0; c < p.cols; c++) {
      const x = x0 + c * CELL, y = 24 + r * CELL;
      ctx.fillStyle = anim.colors[p.colors[r][c]]; ctx.fillRect(x, y, CELL, CELL);
      ctx.strokeStyle = "#5a5a5a"; ctx.strokeRect(x, y, CELL, CELL);
      const t = p.texts[r][c];
      if (t) {  // the whole number, in a font small enough for the cell
        ctx.font = `${Math.min(11, Math.floor((CELL - 4) / (0.62 * t.length)))}px monospace`;
        ctx.fillStyle = "#111"; ctx.fillText(t, x + 2, y + 16); ctx.font = "11px monospace";
      }
    }
    x0 += widths[i] + CELL;
  });
  document.getElementById("label").textContent = `frame ${frame + 1} / ${anim.frames.length}`;
  document.getElementById("caption").textContent = f.title;
}
function step() { frame = (frame + 1) % anim.frames.length; draw(); }
document.getElementById("play").onclick = () => { if (!timer) timer = setInterval(step, 600); };
document.getElementById("pause").onclick = () => { clearInterval(timer); timer = null; };
document.getElementById("step").onclick = () => { clearInterval(timer); timer = null; step(); };
draw();
</script></body></html>
"""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _as_2d(x: np.ndarray) -> np.ndarray:
    return x.reshape(1, -1) if x.ndim == 1 else x


MAX_FRAMES = 400
MAX_ARGUMENT = 16  # largest kernel, stride, padding, dilation or scale factor an animation takes


def _filling_output(title: str, out: np.ndarray, index: int, values: bool) -> Panel:
    """The output panel of frame ``index``: cells before it computed, cell ``index`` current, the rest empty."""
    panel = Panel(title, *out.shape)
    for k, (a, b) in enumerate(np.ndindex(*out.shape)):
        panel.colors[a][b] = "current" if k == index else "done" if k < index else "empty"
        if values and k <= index:
            panel.texts[a][b] = _fmt(out[a, b])
    return panel


def _stepping_source(title: str, array: np.ndarray, index: int, values: bool) -> Panel:
    """An input panel of frame ``index`` when each frame handles one input element: that element is
    highlighted, earlier ones are marked done."""
    panel = Panel(title, *array.shape, texts=_values_grid(array) if values else [])
    for k, (a, b) in enumerate(np.ndindex(*array.shape)):
        panel.colors[a][b] = "window" if k == index else "done" if k < index else "input"
    return panel


def _check_frames(count: int) -> None:
    if count > MAX_FRAMES:
        raise ValueError(f"animate: {count} frames (one per output position) is more than {MAX_FRAMES}; "
                         f"use a smaller input")


def animate_conv(x: np.ndarray, w: np.ndarray, stride=1, padding=0, dilation=1, values: bool = True) -> Animation:
    """One frame per output position of a single-channel 1-d or 2-d convolution ``x (H, W)`` or ``(W,)``
    with kernel ``w``: the padded input with the current window (dilation holes marked), the kernel,
    and the output filling up."""
    x2, w2 = _as_2d(np.asarray(x, dtype=np.float64)), _as_2d(np.asarray(w, dtype=np.float64))
    n = 1 if np.ndim(x) == 1 else 2
    conv = F.conv1d if n == 1 else F.conv2d
    g = arith.conv_geometry((1, 1) + np.shape(x), (1, 1) + np.shape(w), n=n, stride=stride, padding=padding,
                            dilation=dilation)
    out = _as_2d(conv(np.asarray(x, np.float64)[None, None], np.asarray(w, np.float64)[None, None], None,
                      stride, padding, dilation)[0, 0])
    pads = ((0, 0),) + g.padding if n == 1 else g.padding
    stride2 = (1,) + g.stride if n == 1 else g.stride
    dil2 = (1,) + g.dilation if n == 1 else g.dilation
    k2 = w2.shape
    rows, cols = x2.shape[0] + pads[0][0] + pads[0][1], x2.shape[1] + pads[1][0] + pads[1][1]
    _check_frames(out.size)
    frames = []
    for index, (oi, oj) in enumerate(np.ndindex(*out.shape)):
        inp = Panel(f"input {tuple(np.shape(x))}, padding {g.padding}", rows, cols)
        for r in range(rows):
            for c in range(cols):
                inside = pads[0][0] <= r < pads[0][0] + x2.shape[0] and pads[1][0] <= c < pads[1][0] + x2.shape[1]
                inp.colors[r][c] = "input" if inside else "padding"
                if values:
                    inp.texts[r][c] = _fmt(x2[r - pads[0][0], c - pads[1][0]]) if inside else "0"
        r0, c0 = oi * stride2[0], oj * stride2[1]
        for r in range(r0, r0 + dil2[0] * (k2[0] - 1) + 1):
            for c in range(c0, c0 + dil2[1] * (k2[1] - 1) + 1):
                on_tap = (r - r0) % dil2[0] == 0 and (c - c0) % dil2[1] == 0
                inp.colors[r][c] = "window" if on_tap else "hole"
        ker = Panel(f"kernel {tuple(np.shape(w))}, dilation {g.dilation}", *k2, colors=[["kernel"] * k2[1]] * k2[0],
                    texts=_values_grid(w2) if values else [])
        res = _filling_output(f"output {tuple(g.output_size)}, stride {g.stride}", out, index, values)
        frames.append(Frame(f"output {(oi, oj) if n == 2 else (oj,)} = sum(window * kernel) = {_fmt(out[oi, oj])}",
                            _layout([inp, ker, res])))
    return Animation(f"conv{n}d", frames)


def animate_grouped_conv(x: np.ndarray, w: np.ndarray, stride=1, padding=0, dilation=1, groups: int = 1,
                         values: bool = True) -> Animation:
    """A multi-channel 2-d convolution ``x (C_in, H, W)``, ``w (C_out, C_in/groups, kH, kW)``, one frame per
    output channel and position: the input channels of the current output channel's group show the
    window, the other groups' channels are greyed out (``idle``), the group's kernels are shown, and
    every output channel fills up."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    g = arith.conv_geometry((1,) + x.shape, w.shape, n=2, stride=stride, padding=padding, dilation=dilation,
                            groups=groups)
    out = F.conv2d(x[None], w, None, stride, padding, dilation, groups)[0]
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    (plo_h, phi_h), (plo_w, phi_w) = g.padding
    rows, cols = x.shape[1] + plo_h + phi_h, x.shape[2] + plo_w + phi_w
    _check_frames(out.size)
    frames = []
    done = np.zeros(out.shape, dtype=bool)
    for co in range(g.out_channels):
        group = co // cout_g
        for oi, oj in np.ndindex(*g.output_size):
            inputs = []
            for c in range(g.in_channels):
                active = c // cin_g == group
                panel = Panel(f"in {c} (group {c // cin_g})", rows, cols)
                for r in range(rows):
                    for cc in range(cols):
                        inside = plo_h <= r < plo_h + x.shape[1] and plo_w <= cc < plo_w + x.shape[2]
                        panel.colors[r][cc] = ("input" if inside else "padding") if active else "idle"
                        if values and inside:
                            panel.texts[r][cc] = _fmt(x[c, r - plo_h, cc - plo_w])
                if active:
                    r0, c0 = oi * g.stride[0], oj * g.stride[1]
                    for t0, t1 in np.ndindex(*g.kernel_size):
                        panel.colors[r0 + t0 * g.dilation[0]][c0 + t1 * g.dilation[1]] = "window"
                inputs.append(panel)
            kernels = [Panel(f"w[{co}, {ci}]", *g.kernel_size, colors=[["kernel"] * g.kernel_size[1]
                                                                        for _ in range(g.kernel_size[0])],
                             texts=_values_grid(w[co, ci]) if values else []) for ci in range(cin_g)]
            done[co, oi, oj] = True
            outputs = []
            for o in range(g.out_channels):
                panel = Panel(f"out {o} (group {o // cout_g})", *g.output_size)
                for a, b in np.ndindex(*g.output_size):
                    current = (o, a, b) == (co, oi, oj)
                    panel.colors[a][b] = "current" if current else "done" if done[o, a, b] else "empty"
                    if values and done[o, a, b]:
                        panel.texts[a][b] = _fmt(out[o, a, b])
                outputs.append(panel)
            frames.append(Frame(f"out[{co}, {oi}, {oj}] = sum over the {cin_g} input channel(s) of group {group} "
                                f"= {_fmt(out[co, oi, oj])}", _layout_rows([inputs, kernels, outputs])))
    return Animation(f"conv2d, {g.in_channels} -> {g.out_channels} channels, groups {groups}", frames)


def animate_conv_transpose(x: np.ndarray, w: np.ndarray, stride=1, padding=0, output_padding=0, dilation=1,
                           view: str = "scatter", values: bool = True) -> Animation:
    """Transposed 2-d convolution of one channel, two views: ``scatter`` (one frame per input element:
    its scaled kernel copy added into the output) or ``direct`` (one frame per output element: an
    ordinary convolution of the zero-inserted, padded input with the flipped kernel)."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    g = arith.conv_geometry((1, 1) + x.shape, (1, 1) + w.shape, n=2, stride=stride, padding=padding,
                            output_padding=output_padding, dilation=dilation, transposed=True)
    out = F.conv_transpose2d(x[None, None], w[None, None], None, stride, padding, output_padding, 1, dilation)[0, 0]
    if view == "direct":
        from ..explain import zero_inserted_input
        z = zero_inserted_input(x[None, None], g.kernel_size, g.stride, g.padding, g.dilation, g.output_padding)[0, 0]
        frames_anim = animate_conv(z, w[::-1, ::-1], 1, 0, g.dilation, values)
        # colour the inserted zeros and the transposed padding of the direct view
        lo = [arith.zero_insertion(g.input_size[j], g.kernel_size[j], g.stride[j], g.padding[j], g.dilation[j],
                                   g.output_padding[j])[1] for j in range(2)]
        for frame in frames_anim.frames:
            panel = frame.panels[0]
            panel.title = f"zero-inserted, padded input {z.shape}"
            for r in range(z.shape[0]):
                for c in range(z.shape[1]):
                    rr, cc = r - lo[0], c - lo[1]
                    real = (rr >= 0 and cc >= 0 and rr % g.stride[0] == 0 and cc % g.stride[1] == 0
                            and rr // g.stride[0] < x.shape[0] and cc // g.stride[1] < x.shape[1])
                    inside = 0 <= rr <= (x.shape[0] - 1) * g.stride[0] and 0 <= cc <= (x.shape[1] - 1) * g.stride[1]
                    if panel.colors[r][c] == "input":
                        panel.colors[r][c] = "input" if real else "inserted" if inside else "padding"
            frame.panels[1].title = "kernel, flipped"
            assert np.allclose(F.conv2d(z[None, None], w[::-1, ::-1].copy()[None, None], None, 1, 0, g.dilation)[0, 0],
                               out)
        frames_anim.title = "conv_transpose2d as a direct convolution"
        return frames_anim
    _check_frames(x.size)
    frames, partial = [], np.zeros_like(out)
    for index, (i, j) in enumerate(np.ndindex(*x.shape)):
        inp = _stepping_source(f"input {x.shape}", x, index, values)
        ker = Panel(f"kernel {w.shape}", *w.shape, colors=[["kernel"] * w.shape[1]] * w.shape[0],
                    texts=_values_grid(w) if values else [])
        touched = set()
        for t0, t1 in np.ndindex(*w.shape):
            a = i * g.stride[0] + t0 * g.dilation[0] - g.padding[0][0]
            b = j * g.stride[1] + t1 * g.dilation[1] - g.padding[1][0]
            if 0 <= a < out.shape[0] and 0 <= b < out.shape[1]:
                partial[a, b] += x[i, j] * w[t0, t1]
                touched.add((a, b))
        res = Panel(f"output {out.shape}, stride {g.stride}", *out.shape)
        for a, b in np.ndindex(*out.shape):
            res.colors[a][b] = "current" if (a, b) in touched else "done" if partial[a, b] != 0 else "empty"
            if values:
                res.texts[a][b] = _fmt(partial[a, b])
        frames.append(Frame(f"input ({i}, {j}) = {_fmt(x[i, j])} adds {_fmt(x[i, j])} * kernel", _layout([inp, ker, res])))
    assert np.allclose(partial, out)
    return Animation("conv_transpose2d as a scatter of kernel copies", frames)


def animate_pool(x: np.ndarray, kind: str, kernel, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                 values: bool = True) -> Animation:
    """Max or average pooling of one 2-d channel; with ceil_mode the last windows hang over the
    input and its padding (those cells are drawn in the ``overhang`` colour)."""
    x = np.asarray(x, dtype=np.float64)
    g = arith.pool_geometry(x.shape, kernel, stride, padding, dilation if kind == "max" else 1, ceil_mode)
    if kind == "max":
        out = F.max_pool2d(x[None, None], g.kernel_size, g.stride, g.padding, g.dilation, ceil_mode)[0, 0]
    else:
        out = F.avg_pool2d(x[None, None], g.kernel_size, g.stride, g.padding, ceil_mode)[0, 0]
    # cells drawn: the padded input, or further where a ceil_mode window hangs over it
    reach = [max((o - 1) * s + arith.effective_kernel_size(k, d), i + 2 * p) for o, s, d, k, i, p in
             zip(g.output_size, g.stride, g.dilation, g.kernel_size, g.input_size, g.padding)]
    _check_frames(out.size)
    frames = []
    for index, (oi, oj) in enumerate(np.ndindex(*out.shape)):
        inp = Panel(f"input {x.shape}, padding {g.padding}", reach[0], reach[1])
        for r in range(reach[0]):
            for c in range(reach[1]):
                rr, cc = r - g.padding[0], c - g.padding[1]
                inside = 0 <= rr < x.shape[0] and 0 <= cc < x.shape[1]
                in_pad = r < x.shape[0] + 2 * g.padding[0] and c < x.shape[1] + 2 * g.padding[1]
                inp.colors[r][c] = "input" if inside else "padding" if in_pad else "overhang"
                if values and inside:
                    inp.texts[r][c] = _fmt(x[rr, cc])
        r0, c0 = oi * g.stride[0], oj * g.stride[1]
        for t0, t1 in np.ndindex(*g.kernel_size):
            inp.colors[r0 + t0 * g.dilation[0]][c0 + t1 * g.dilation[1]] = "window"
        res = _filling_output(f"output {out.shape}", out, index, values)
        frames.append(Frame(f"output ({oi}, {oj}) = {kind} of the window = {_fmt(out[oi, oj])}", _layout([inp, res])))
    return Animation(f"{kind}_pool2d, kernel {g.kernel_size}, stride {g.stride}, ceil_mode {ceil_mode}", frames)


def animate_upsample(x: np.ndarray, scale_factor: float = 2.0, mode: str = "nearest", align_corners=None,
                     values: bool = True) -> Animation:
    """Nearest or bilinear upsampling of one 2-d channel: each output cell and the input cells it reads."""
    from ..ops.resize import resize_taps
    x = np.asarray(x, dtype=np.float64)
    out = F.interpolate(x[None, None], scale_factor=scale_factor, mode=mode, align_corners=align_corners)[0, 0]
    taps = {axis: (idx, w) for axis, idx, w in resize_taps(x[None, None], out.shape, mode, bool(align_corners),
                                                           (float(scale_factor),) * 2)}
    _check_frames(out.size)
    frames = []
    for index, (oi, oj) in enumerate(np.ndindex(*out.shape)):
        inp = Panel(f"input {x.shape}", *x.shape, texts=_values_grid(x) if values else [])
        sources = []
        for axis, o in ((2, oi), (3, oj)):
            idx, w = taps[axis]
            sources.append({int(idx[k, o]) for k in range(idx.shape[0]) if w[k, o] != 0})
        for a in sources[0]:
            for b in sources[1]:
                inp.colors[a][b] = "source"
        res = _filling_output(f"output {out.shape}", out, index, values)
        frames.append(Frame(f"output ({oi}, {oj}) reads input rows {sorted(sources[0])}, cols {sorted(sources[1])}",
                            _layout([inp, res])))
    return Animation(f"{mode} upsampling x{scale_factor}", frames)


def animate_unpool(x: np.ndarray, kernel=2, stride=None, values: bool = True) -> Animation:
    """Max pooling then max unpooling of one 2-d channel: each pooled value returns to its index."""
    x = np.asarray(x, dtype=np.float64)
    pooled, indices = F.max_pool2d(x[None, None], kernel, stride, return_indices=True)
    restored = F.max_unpool2d(pooled, indices, kernel, stride, output_size=x.shape)[0, 0]
    pooled, indices = pooled[0, 0], indices[0, 0]
    _check_frames(pooled.size)
    frames, partial = [], np.zeros_like(restored)
    for index, (i, j) in enumerate(np.ndindex(*pooled.shape)):
        src = _stepping_source(f"pooled {pooled.shape}", pooled, index, values)
        target = divmod(int(indices[i, j]), x.shape[1])
        partial[target] = pooled[i, j]
        res = Panel(f"unpooled {restored.shape}", *restored.shape)
        for a, b in np.ndindex(*restored.shape):
            res.colors[a][b] = "current" if (a, b) == target else "done" if partial[a, b] != 0 else "empty"
            if values:
                res.texts[a][b] = _fmt(partial[a, b])
        frames.append(Frame(f"pooled ({i}, {j}) = {_fmt(pooled[i, j])} goes back to index {int(indices[i, j])} "
                            f"= {target}", _layout([src, res])))
    return Animation("max_unpool2d", frames)


def load_values(path) -> np.ndarray:
    """Input values for an animation from a ``.npy`` file (plain arrays only) or a text/CSV grid of numbers."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"animate: --values must be arange, random, ones or a file; no file at {path}")
    try:
        if path.suffix == ".npy":
            array = np.load(path)  # object arrays refused by default
        else:
            array = np.loadtxt(path, delimiter="," if path.suffix == ".csv" else None, ndmin=1)
    except (ValueError, OSError) as error:
        raise ValueError(f"animate: could not read numbers from {path}: {error}") from None
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 2 and array.shape[0] == 1 and path.suffix != ".npy":
        array = array[0]
    return array


ANIMATED_OPS = ("conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "max_unpool2d", "upsample")


def animate(op: str, input_size, kernel_size=3, stride=None, padding=0, dilation=1, output_padding=0,
            ceil_mode: bool = False, scale_factor: float = 2.0, mode: str = "nearest", align_corners=None,
            view: str = "scatter", values: str = "arange", seed: int = 0, in_channels: int = 1,
            out_channels: int = 1, groups: int = 1) -> Animation:
    """Build the animation of ``op`` for an input of ``input_size`` with ``arange``, ``random`` or
    ``ones`` values, or values read from a file (``.npy``, ``.csv``, ``.txt``); the kernel is ones
    except for ``random``.  ``stride`` defaults to 1 for
    convolutions and to the kernel for pooling, as in PyTorch."""
    if op not in ANIMATED_OPS:
        raise ValueError(f"animate: unknown operation {op!r}; choose one of {', '.join(ANIMATED_OPS)}")
    if view not in ("scatter", "direct"):
        raise ValueError(f"animate: view must be 'scatter' or 'direct', got {view!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"animate: seed must be a non-negative integer, got {seed!r}")
    shape = tuple(input_size) if isinstance(input_size, (tuple, list)) else (input_size,) * (1 if op == "conv1d" else 2)
    if op != "conv1d" and len(shape) != 2 or op == "conv1d" and len(shape) != 1:
        raise ValueError(f"animate: {op} needs a {'1' if op == 'conv1d' else '2'}-d input size, got {shape}")
    if int(np.prod(shape)) > 400:
        raise ValueError(f"animate: input size {shape} has more than 400 cells")
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("padding", padding),
                        ("dilation", dilation), ("output_padding", output_padding), ("scale_factor", scale_factor)):
        numbers = value if isinstance(value, (tuple, list)) else (value,)
        flat = [v for item in numbers for v in (item if isinstance(item, (tuple, list)) else (item,))]
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) and v > MAX_ARGUMENT for v in flat):
            raise ValueError(f"animate: {name}={value!r} is larger than {MAX_ARGUMENT}; animations are for small "
                             f"configurations")
    rng = np.random.default_rng(seed)
    if values not in ("arange", "random", "ones"):
        x = load_values(values)
        if x.shape != shape:
            raise ValueError(f"animate: the values file {values!r} holds an array of shape {x.shape}, but the input "
                             f"size is {shape}")
    elif values == "arange":
        x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    elif values == "random":
        x = np.round(rng.standard_normal(shape), 1)
    elif values == "ones":
        x = np.ones(shape)
    k = arith.ntuple(kernel_size, len(shape), "kernel_size")
    w = np.round(rng.standard_normal(k), 1) if values == "random" else np.ones(k)
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_ARGUMENT:
            raise ValueError(f"animate: {name} must be an integer from 1 to {MAX_ARGUMENT}, got {value!r}")
    if op == "conv2d" and (in_channels, out_channels, groups) != (1, 1, 1):
        if in_channels * int(np.prod(shape)) > 400:
            raise ValueError(f"animate: {in_channels} channels of {shape} are more than 400 cells")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"animate: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        xs = np.stack([x + 100 * c for c in range(in_channels)]) if values == "arange" else \
            np.round(rng.standard_normal((in_channels,) + shape), 1) if values == "random" else \
            np.ones((in_channels,) + shape)
        ws = np.round(rng.standard_normal((out_channels, in_channels // groups) + k), 1) if values == "random" \
            else np.ones((out_channels, in_channels // groups) + k)
        return animate_grouped_conv(xs, ws, 1 if stride is None else stride, padding, dilation, groups)
    if op in ("conv1d", "conv2d"):
        return animate_conv(x, w, 1 if stride is None else stride, padding, dilation)
    if op == "conv_transpose2d":
        return animate_conv_transpose(x, w, 1 if stride is None else stride, padding, output_padding, dilation, view)
    if op in ("max_pool2d", "avg_pool2d"):
        return animate_pool(x, op[:3], kernel_size, stride, padding, dilation, ceil_mode)
    if op == "max_unpool2d":
        return animate_unpool(x, kernel_size, stride)
    return animate_upsample(x, scale_factor, mode, align_corners)
