"""Bounded memory: a large convolution never builds a whole-input im2col."""
import subprocess
import sys

SCRIPT = r"""
import resource, numpy as np, convscope.functional as F
x = np.ones((1, 16, 4096, 4096), np.float32)          # 1 GiB in
w = np.full((16, 16, 3, 3), 0.01, np.float32)
y = F.conv2d(x, w, padding=1)                         # 1 GiB out; a full im2col would add 9 GiB
assert y.shape == (1, 16, 4096, 4096)
# corner windows see 4 taps, edges 6, the interior 9 (x 16 channels x 0.01)
assert abs(y[0, 3, 0, 0] - 0.64) < 1e-5 and abs(y[0, 3, 0, 9] - 0.96) < 1e-5
assert abs(y[0, 5, 2000, 3000] - 1.44) < 1e-5 and abs(y[0, 0, 4095, 4095] - 0.64) < 1e-5
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def test_conv2d_4096_image_peak_memory_under_3_gib():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    peak = int(out.stdout.strip())
    assert peak < 3 * 2**30, f"peak resident memory {peak / 2**30:.2f} GiB"
