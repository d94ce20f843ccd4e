// Python bindings of the CUDA build (loaded by cuda_ops/fused.py).
#include <torch/extension.h>

#include "ops.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.doc() = "StyleGAN Explorer fused CUDA ops (bias_act, upfirdn2d, filtered_lrelu)";
    m.def("bias_act", &sgops::bias_act_cuda, "bias + activation + gain + clamp, or its derivatives");
    m.def("upfirdn2d", &sgops::upfirdn2d_cuda, "upsample, pad, FIR filter, downsample");
    m.def("filtered_lrelu", &sgops::filtered_lrelu_cuda,
          "bias, upsample, leaky ReLU, clamp, downsample in one kernel (None if it cannot tile)");
    m.attr("backend") = "cuda";
}
