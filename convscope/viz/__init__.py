"""Pictures: training curves, learned kernels and feature maps (matplotlib, an optional extra:
``pip install convscope[plot]``)."""
from .figures import feature_maps, kernel_grid, plot_history, require_matplotlib, save_image_grid

__all__ = ["plot_history", "kernel_grid", "feature_maps", "save_image_grid", "require_matplotlib"]
