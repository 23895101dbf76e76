// convscope explorer: every number comes from the server's JSON API (computed by convscope).
"use strict";
const $ = (id) => document.getElementById(id);
const CELL = 26;
let anim = null, frame = 0, timer = null;
// Change events can overlap (a field's change, then another's): only the latest refresh may draw,
// and a refresh with the parameters already shown keeps the frame the user stepped to.
let generation = 0, shown = "";

function query() {
  const p = new URLSearchParams();
  for (const id of ["op", "input", "kernel", "stride", "padding", "dilation", "out_channels", "groups",
                    "output_padding", "scale_factor", "mode", "view"]) {
    const v = $(id).value.trim();
    if (v !== "") p.set(id, v);
  }
  p.set("ceil_mode", $("ceil_mode").checked ? "true" : "false");
  if ($("align_corners").checked) p.set("align_corners", "true");
  return p;
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

async function refresh() {
  const p = query();
  const key = p.toString(), mine = ++generation;
  const op = p.get("op");
  const shapeQuery = new URLSearchParams(p);
  shapeQuery.set("input", "1x1x" + p.get("input"));  // one sample, one channel
  $("error").textContent = "";
  try {
    if (op !== "max_unpool2d") {
      const s = await getJSON("/api/shape?" + shapeQuery.toString());
      if (mine !== generation) return;
      $("output-shape").textContent = "(" + s.output_shape.join(", ") + ")";
      $("params-count").textContent = s.params.toLocaleString();
      $("macs").textContent = s.macs.toLocaleString();
      $("flops").textContent = s.flops.toLocaleString();
      const rf = s.receptive_field;
      $("rf").textContent = rf ? `size ${rf.size.join("x")}, jump ${rf.jump.join("x")}, start ${rf.start.join(", ")}` : "-";
      $("formula").textContent = s.formula.join("\n");
    }
    const next = await getJSON("/api/animation?" + p.toString());
    if (mine !== generation) return;
    frame = key === shown ? Math.min(frame, next.frames.length - 1) : 0;
    anim = next;
    shown = key;
    draw();
  } catch (error) {
    if (mine === generation) $("error").textContent = error.message;
  }
}

function draw() {
  if (!anim) return;
  const f = anim.frames[frame];
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  ctx.font = "11px monospace";
  const widths = f.panels.map((panel) => Math.max(panel.cols * CELL, ctx.measureText(panel.title).width + 8));
  let height = 0;
  for (const panel of f.panels) height = Math.max(height, panel.rows * CELL);
  canvas.width = CELL + widths.reduce((a, b) => a + b + CELL, 0);
  canvas.height = height + 40;
  ctx.font = "11px monospace";  // resizing the canvas resets its state
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  let x0 = CELL;
  f.panels.forEach((panel, index) => {
    ctx.fillStyle = "#222"; ctx.fillText(panel.title, x0, 14);
    for (let r = 0; r < panel.rows; r++) {
      for (let c = 0; c < panel.cols; c++) {
        const x = x0 + c * CELL, y = 24 + r * CELL;
        ctx.fillStyle = anim.colors[panel.colors[r][c]];
        ctx.fillRect(x, y, CELL, CELL);
        ctx.strokeStyle = "#5a5a5a"; ctx.strokeRect(x, y, CELL, CELL);
        const text = panel.texts[r][c];
        if (text) {  // the whole number, in a font small enough for the cell
          ctx.font = `${Math.min(11, Math.floor((CELL - 4) / (0.62 * text.length)))}px monospace`;
          ctx.fillStyle = "#111"; ctx.fillText(text, x + 2, y + 16); ctx.font = "11px monospace";
        }
      }
    }
    x0 += widths[index] + CELL;
  });
  $("frame-label").textContent = `frame ${frame + 1} / ${anim.frames.length}`;
  $("frame-title").textContent = f.title;
}

function step() { if (anim) { frame = (frame + 1) % anim.frames.length; draw(); } }
$("play").onclick = () => { if (!timer) timer = setInterval(step, 600); };
$("pause").onclick = () => { clearInterval(timer); timer = null; };
$("step").onclick = () => { $("pause").onclick(); step(); };
for (const el of document.querySelectorAll("#params input, #params select")) el.addEventListener("change", refresh);

async function featureMap(body, extra) {
  const kernel = $("preset").value === "custom" ? $("custom-kernel").value : $("preset").value;
  const p = new URLSearchParams({ kernel, ...extra });
  try {
    const result = await getJSON("/api/feature_map?" + p.toString(), { method: "POST", body });
    $("feature-map").src = result.png;
    $("feature-info").textContent = `input ${result.input_shape.join("x")} -> ${result.output_shape.join("x")}, ` +
      `values ${result.min.toFixed(2)} .. ${result.max.toFixed(2)}`;
  } catch (error) {
    $("feature-info").textContent = error.message;
  }
}
$("example").onclick = () => featureMap("", { example: "digit" });
$("upload").onchange = () => { const file = $("upload").files[0]; if (file) featureMap(file, {}); };
refresh();
