"""Hot-path ops of StyleGAN generators: bias + activation, FIR resampling, filtered leaky ReLU.

Each op has a pure-PyTorch reference implementation that runs everywhere (CPU, MPS, CUDA) and
defines the numerics. `cuda_ops.dispatch` decides per call whether a fused CUDA kernel may be
used instead; until kernels are built, the reference path always runs.
"""

from cuda_ops.bias_act import bias_act
from cuda_ops.filtered_lrelu import filtered_lrelu
from cuda_ops.upfirdn2d import downsample2d, setup_filter, upfirdn2d, upsample2d

__all__ = ["bias_act", "filtered_lrelu", "setup_filter", "upfirdn2d", "upsample2d", "downsample2d"]
