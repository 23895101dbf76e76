"""A small local web app: static files of one page plus a JSON API computed by the core.

Endpoints (GET unless noted; parameters as in ``convscope shape``):

- ``/api/shape?op=conv2d&input=1x3x32x32&out_channels=16&kernel=5&stride=2&padding=2`` — the object
  ``convscope shape --json`` prints (output shape, params, MACs, FLOPs, receptive field and the
  output-size derivation per dimension, ``formula``).
- ``/api/animation?op=conv2d&input=5x5&kernel=3&stride=2&padding=1`` — the frames of
  ``convscope animate`` as JSON (panels of coloured, labelled cells) and the colour table.
- ``POST /api/feature_map?kernel=sobel_x`` with an image body (PNG/JPEG, at most 2 MB, at most
  512x512 pixels after decoding) or ``?example=digit`` — the grey image convolved with a preset or a
  custom ``kernel=1,0,-1;2,0,-2;1,0,-1``, as arrays of numbers and as a PNG (base64).

Every request is bounded (sizes, frames, bytes); a bad one gets a 4xx JSON error with a message.
Static files come only from this package's ``static`` folder.
"""
from __future__ import annotations

import base64
import io
import json
import math
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlparse

import numpy as np

from .. import functional as F
from ..calc import CalcError, parse_sizes, parse_shape, shape_report

__all__ = ["ApiError", "handle_api", "make_server", "serve", "KERNEL_PRESETS", "MAX_UPLOAD_BYTES"]

MAX_UPLOAD_BYTES = 2 * 2**20
MAX_IMAGE_SIDE = 512
MAX_SHAPE_ELEMENTS = 2**22   # the shape report runs the layer once on zeros: keep that cheap
MAX_SHAPE_MACS = 2**31       # ... in input, weight and output elements, and multiply-accumulates
MAX_FEATURE_PADDING = 64
MAX_GROWTH = 64               # largest stride of a transposed convolution / upsampling factor per dimension
STATIC_FILES = {"/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
                "/app.js": ("app.js", "text/javascript; charset=utf-8"), "/style.css": ("style.css", "text/css")}
KERNEL_PRESETS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box_blur": [[1 / 9] * 3] * 3,
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
}


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _one(query: dict, name: str, default=None):
    values = query.get(name)
    return values[-1] if values else default


def _number(query, name, default, kind=int):
    text = _one(query, name)
    if text in (None, ""):
        return default
    try:
        return kind(text)
    except ValueError:
        raise ApiError(400, f"{name} must be a number, got {text!r}") from None


def _shape(query) -> dict:
    op = _one(query, "op", "conv2d")
    shape = parse_shape(_one(query, "input", ""))
    if math.prod(shape) > MAX_SHAPE_ELEMENTS:
        raise ApiError(413, f"input {shape} has more than {MAX_SHAPE_ELEMENTS} elements")
    options = dict(out_channels=_number(query, "out_channels", None), kernel=_one(query, "kernel"),
                   stride=_one(query, "stride"), padding=_one(query, "padding"), dilation=_one(query, "dilation"),
                   groups=_number(query, "groups", 1), output_padding=_one(query, "output_padding"),
                   bias=_one(query, "bias", "true") != "false", ceil_mode=_one(query, "ceil_mode") == "true",
                   scale_factor=_number(query, "scale_factor", None, float), size=_one(query, "size"),
                   mode=_one(query, "mode", "nearest"),
                   align_corners=True if _one(query, "align_corners") == "true" else None)
    growth = [options["scale_factor"] or 1] if op == "upsample" else []
    if "transpose" in op:
        stride = parse_sizes(options["stride"]) or 1
        growth += list(stride) if isinstance(stride, tuple) else [stride]
    if any(g > MAX_GROWTH for g in growth):
        raise ApiError(413, f"stride or scale factor above {MAX_GROWTH} is too large for the explorer")
    if op == "upsample" and options["size"]:
        size = parse_sizes(options["size"])
        if math.prod(size if isinstance(size, tuple) else (size,) * (len(shape) - 2)) * math.prod(shape[:2]) \
                > MAX_SHAPE_ELEMENTS * MAX_GROWTH:
            raise ApiError(413, f"output size {size} is too large for the explorer")
    return shape_report(op, shape, max_elements=MAX_SHAPE_ELEMENTS, max_macs=MAX_SHAPE_MACS, **options)


def _animation(query) -> dict:
    from ..viz.animate import animate
    op = _one(query, "op", "conv2d")
    values = _one(query, "values", "arange")
    if values not in ("arange", "random", "ones"):  # never a file name: requests do not reach the disk
        raise ApiError(400, f"values must be arange, random or ones, got {values!r}")
    size = tuple(int(v) for v in (_one(query, "input", "5x5") or "").lower().replace(",", "x").split("x") if v)
    anim = animate(op, size, parse_sizes(_one(query, "kernel", "3")), parse_sizes(_one(query, "stride")),
                   parse_sizes(_one(query, "padding", "0")), parse_sizes(_one(query, "dilation", "1")),
                   parse_sizes(_one(query, "output_padding", "0")), _one(query, "ceil_mode") == "true",
                   _number(query, "scale_factor", 2.0, float), _one(query, "mode", "nearest"), None,
                   _one(query, "view", "scatter"), values, _number(query, "seed", 0))
    return anim.to_json()


def _kernel(query) -> np.ndarray:
    text = _one(query, "kernel", "sobel_x")
    if text in KERNEL_PRESETS:
        return np.asarray(KERNEL_PRESETS[text], dtype=np.float64)
    try:
        rows = [[float(v) for v in row.split(",")] for row in text.split(";")]
        kernel = np.asarray(rows, dtype=np.float64)
    except ValueError:
        raise ApiError(400, f"kernel must be one of {sorted(KERNEL_PRESETS)} or rows like 1,0,-1;2,0,-2;1,0,-1, "
                            f"got {text!r}") from None
    if kernel.ndim != 2 or not 1 <= kernel.shape[0] <= 15 or not 1 <= kernel.shape[1] <= 15:
        raise ApiError(400, f"kernel must be a rectangular grid of at most 15x15 numbers, got {text!r}")
    if not np.isfinite(kernel).all() or np.abs(kernel).max() > 1e6:
        raise ApiError(400, f"kernel values must be finite numbers of magnitude at most 1e6, got {text!r}")
    return kernel


def _decode_image(body: bytes) -> np.ndarray:
    if len(body) > MAX_UPLOAD_BYTES:
        raise ApiError(413, f"image of {len(body)} bytes is larger than {MAX_UPLOAD_BYTES} bytes")
    if not body:
        raise ApiError(400, "empty upload: send a PNG or JPEG image as the request body, or use ?example=digit")
    from PIL import Image
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 4096 * 4096  # decompression bombs raise instead of exhausting memory
    try:
        with Image.open(io.BytesIO(body)) as image:
            if image.format not in ("PNG", "JPEG", "GIF", "BMP"):
                raise ApiError(415, f"unsupported image format {image.format}; send PNG or JPEG")
            image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
            return np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    except ApiError:
        raise
    except Exception as error:  # Pillow raises many types for corrupt files
        raise ApiError(400, f"could not decode the image: {error}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _feature_map(query, body: bytes) -> dict:
    kernel = _kernel(query)  # validate the cheap argument first
    if _one(query, "example") == "digit":
        from ..data import load_mnist
        images, _ = load_mnist(split="test", normalize=False)
        image = images[0, 0].astype(np.float64)
    else:
        image = _decode_image(body)
    padding = _one(query, "padding", "same")
    if padding not in ("same", "valid"):
        padding = _number(query, "padding", 0)
        if not 0 <= padding <= MAX_FEATURE_PADDING:
            raise ApiError(400, f"padding must be 'same', 'valid' or an integer from 0 to {MAX_FEATURE_PADDING}, "
                                f"got {padding}")
    out = F.conv2d(image[None, None], kernel[None, None], padding=padding)[0, 0]
    from PIL import Image
    scaled = out - out.min()
    scaled = scaled / scaled.max() if scaled.max() > 0 else scaled
    buffer = io.BytesIO()
    Image.fromarray((scaled * 255).astype(np.uint8)).save(buffer, format="PNG")
    return {"input_shape": list(image.shape), "output_shape": list(out.shape), "kernel": kernel.tolist(),
            "min": float(out.min()), "max": float(out.max()),
            "png": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()}


def handle_api(method: str, path: str, query: dict, body: bytes = b"") -> tuple[int, dict]:
    """Route one API request; returns ``(status, JSON object)``.  Used by the server and the tests."""
    try:
        if path == "/api/shape" and method == "GET":
            return 200, _shape(query)
        if path == "/api/animation" and method == "GET":
            return 200, _animation(query)
        if path == "/api/feature_map" and method == "POST":
            return 200, _feature_map(query, body)
        if path == "/api/presets" and method == "GET":
            return 200, {"kernels": KERNEL_PRESETS}
        return 404, {"error": f"no API endpoint {method} {path}"}
    except ApiError as error:
        return error.status, {"error": str(error)}
    except (CalcError, ValueError, TypeError) as error:
        return 400, {"error": str(error)}
    except MemoryError:  # the limits above should prevent it; the server thread must survive it anyway
        return 413, {"error": "the request needs more memory than this server has; ask for a smaller layer"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "convscope"

    def log_message(self, format, *args):  # quiet: the tests start servers
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _route(self, method: str) -> None:
        url = urlparse(self.path)
        if url.path.startswith("/api/"):
            body = b""
            if method == "POST":
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if length < 0:
                    self._json(400, {"error": "invalid Content-Length"})
                    return
                if length > MAX_UPLOAD_BYTES:
                    # Read (and drop) a moderately oversized body so the client sees the answer,
                    # not a reset; anything larger is cut off unread.
                    remaining = length if length <= 4 * MAX_UPLOAD_BYTES else 0
                    while remaining > 0:
                        chunk = self.rfile.read(min(remaining, 2**16))
                        if not chunk:
                            break
                        remaining -= len(chunk)
                    self.close_connection = True
                    self._json(413, {"error": f"upload of {length} bytes is larger than {MAX_UPLOAD_BYTES} bytes"})
                    return
                body = self.rfile.read(length)
            status, payload = handle_api(method, url.path, parse_qs(url.query), body)
            self._json(status, payload)
            return
        if method == "GET" and url.path in STATIC_FILES:  # a fixed table: no request path reaches the disk
            name, content_type = STATIC_FILES[url.path]
            self._send(200, resources.files(__package__).joinpath("static", name).read_bytes(), content_type)
            return
        self._json(404, {"error": f"not found: {url.path}"})

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")


def make_server(host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    return ThreadingHTTPServer((host, port), _Handler)


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    server = make_server(host, port)
    print(f"convscope explorer at http://{host}:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
