// The entry points the Python loader binds (see bindings.cpp and cuda_ops/fused.py).
//
// Argument conventions (all ops):
//   - filters are optional float tensors (1-D: separable, 2-D: [height, width]); absent means
//     the one-tap identity filter;
//   - `flip` is upfirdn2d's flip_filter: false convolves (reverses the taps), true correlates;
//   - `clamp` < 0 means no clamp;
//   - `smem_limit` caps the shared memory of one block in bytes (<= 0: 48 KiB); tests pass a
//     small value to force the fallback paths.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace sgops {

// mode 0: clamp(act(x + b) * gain); 1: the gradient dy * d/dx; 2: ddx * dy * d2/dx2.
// `act`: 0 linear, 1 relu, 2 lrelu (slope alpha), 3 tanh, 4 sigmoid. `b` runs along `dim`.
at::Tensor bias_act_cuda(const at::Tensor& x, const std::optional<at::Tensor>& b,
                         const std::optional<at::Tensor>& dy, const std::optional<at::Tensor>& ddx,
                         int64_t dim, int64_t act, double alpha, double gain, double clamp,
                         int64_t mode);

// NCHW (any strides) in, output in x's suggested memory format.
at::Tensor upfirdn2d_cuda(const at::Tensor& x, const std::optional<at::Tensor>& f, int64_t upx,
                          int64_t upy, int64_t downx, int64_t downy, int64_t px0, int64_t px1,
                          int64_t py0, int64_t py1, bool flip, double gain, int64_t smem_limit);

// Returns an undefined tensor (None in Python) when one output tile's working set does not fit
// in `smem_limit`; the caller then composes upfirdn2d and bias_act instead.
at::Tensor filtered_lrelu_cuda(const at::Tensor& x, const std::optional<at::Tensor>& fu,
                               const std::optional<at::Tensor>& fd,
                               const std::optional<at::Tensor>& b, int64_t up, int64_t down,
                               int64_t px0, int64_t px1, int64_t py0, int64_t py1, double gain,
                               double slope, double clamp, bool flip, int64_t smem_limit);

}  // namespace sgops
