"""The web explorer's JSON API (same numbers as the CLI) and its robustness, over a real local server."""
import io
import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from convscope.cli import main
from convscope.web import handle_api, make_server


@pytest.fixture(scope="module")
def server():
    srv = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def fetch(url, data=None, method=None):
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read()


def test_shape_api_equals_the_cli_json(server, capsys):
    args = dict(op="conv2d", input="1x3x32x32", out_channels="16", kernel="5", stride="2", padding="2")
    status, kind, body = fetch(server + "/api/shape?" + "&".join(f"{k}={v}" for k, v in args.items()))
    assert status == 200 and kind == "application/json"
    api = json.loads(body)
    assert main(["shape", "conv2d", "--input", "1x3x32x32", "--out-channels", "16", "--kernel", "5", "--stride", "2",
                 "--padding", "2", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert api == cli
    assert api["formula"] == ["o = floor((i + p_lo + p_hi - d*(k-1) - 1) / s) + 1 = floor((32 + 2 + 2 - 1*(5-1) - 1)"
                              " / 2) + 1 = floor(31 / 2) + 1 = 16"] * 2


def test_animation_api_frames(server):
    status, _, body = fetch(server + "/api/animation?op=conv2d&input=5x5&kernel=3&stride=2&padding=1")
    data = json.loads(body)
    assert status == 200 and len(data["frames"]) == 9
    first = data["frames"][0]["panels"][0]
    assert first["colors"][0][0] == "window" and first["colors"][0][4] == "padding"
    assert data["colors"]["window"].startswith("rgb(")


def test_static_page_and_no_path_escapes(server):
    status, kind, body = fetch(server + "/")
    assert status == 200 and kind.startswith("text/html") and b"convscope explorer" in body
    assert fetch(server + "/app.js")[0] == 200
    for path in ("/../pyproject.toml", "/%2e%2e/%2e%2e/etc/passwd", "/static/../server.py", "/etc/passwd"):
        assert fetch(server + path)[0] == 404, path


def test_feature_map_upload_and_example(server):
    image = Image.fromarray((np.tile(np.arange(16), (16, 1)) * 16).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    status, _, body = fetch(server + "/api/feature_map?kernel=sobel_x", buffer.getvalue(), "POST")
    data = json.loads(body)
    assert status == 200 and data["output_shape"] == [16, 16] and data["png"].startswith("data:image/png;base64,")
    assert data["max"] > 0                              # a horizontal ramp has a positive x-gradient
    status, _, body = fetch(server + "/api/feature_map?example=digit&kernel=1,0,-1;2,0,-2;1,0,-1", b"", "POST")
    assert status == 200 and json.loads(body)["input_shape"] == [28, 28]


@pytest.mark.parametrize("path, status, message", [
    ("/api/shape?op=conv2d&input=1x3x4x4&kernel=7", 400, "smaller than the dilated kernel"),
    ("/api/shape?op=conv2d&input=1x3x100000x100000&kernel=3", 413, "more than"),
    ("/api/shape?op=conv2d&input=1x16x1024x1024&kernel=3", 413, "more than"),
    ("/api/shape?op=conv_transpose2d&input=1x1x8x8&kernel=3&stride=1000", 413, "too large"),
    ("/api/shape?op=upsample&input=1x1x8x8&scale_factor=5000", 413, "too large"),
    ("/api/shape?op=upsample&input=1x1x8x8&size=100000", 413, "too large"),
    ("/api/shape?op=bogus&input=1x3x8x8&kernel=3", 400, "unknown operation"),
    ("/api/shape?op=conv2d&input=abc&kernel=3", 400, "--input must look like"),
    ("/api/animation?op=conv2d&input=60x60&kernel=3", 400, "more than 400 cells"),
    ("/api/animation?op=conv_transpose2d&input=19x19&kernel=3&stride=3&view=direct", 400, "more than 400"),
    ("/api/nothing", 404, "no API endpoint"),
    ("/api/animation?op=conv_transpose2d&input=4x4&kernel=3&stride=1000&view=direct", 400, "larger than 16"),
    ("/api/animation?op=conv2d&input=3x3&values=/etc/passwd", 400, "values must be arange, random or ones"),
    ("/api/animation?op=conv2d&input=3x3&values=pyproject.toml", 400, "values must be arange, random or ones"),
])
def test_bad_requests_get_clear_4xx(server, path, status, message):
    code, kind, body = fetch(server + path)
    assert code == status and kind == "application/json" and message in json.loads(body)["error"]


def test_uploads_are_bounded_and_decoded_safely(server):
    code, _, body = fetch(server + "/api/feature_map", b"x" * (3 * 2**20), "POST")
    assert code == 413
    code, _, body = fetch(server + "/api/feature_map", b"not an image", "POST")
    assert code == 400 and "could not decode" in json.loads(body)["error"]
    code, _, body = fetch(server + "/api/feature_map?kernel=1,2;3", b"", "POST")
    assert code == 400
    status, payload = handle_api("POST", "/api/feature_map", {"kernel": ["evil"]}, b"")
    assert status == 400 and "kernel must be one of" in payload["error"]
