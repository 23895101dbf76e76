"""Pictures: training curves, learned kernels, feature maps (matplotlib) and animations of
convolution arithmetic (Pillow); both are the optional extra ``pip install convscope[plot]``."""
from .animate import ANIMATED_OPS, Animation, animate
from .figures import feature_maps, kernel_grid, plot_history, require_matplotlib, save_image_grid

__all__ = ["plot_history", "kernel_grid", "feature_maps", "save_image_grid", "require_matplotlib", "animate",
           "Animation", "ANIMATED_OPS"]
