// bias_act on the GPU: a grid-stride loop over elements in memory order.
#include "cuda_launch.h"
#include "ops.h"

#include <ATen/Dispatch.h>

#include <algorithm>
#include <limits>

namespace sgops {
namespace {

template <typename T, typename I>
__global__ void bias_act_kernel(BiasActParams p, const T* x, const T* b, const T* dy, const T* ddx,
                                T* out) {
    using A = typename Acc<T>::type;
    const I n = static_cast<I>(p.numel);
    const I stride = static_cast<I>(blockDim.x) * static_cast<I>(gridDim.x);
    for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
         i < n; i += stride) {
        bias_act_element<T, A, I>(p, x, b, dy, ddx, out, i);
    }
}

}  // namespace

at::Tensor bias_act_cuda(const at::Tensor& x, const std::optional<at::Tensor>& b,
                         const std::optional<at::Tensor>& dy, const std::optional<at::Tensor>& ddx,
                         int64_t dim, int64_t act, double alpha, double gain, double clamp,
                         int64_t mode) {
    check_cuda(x, "bias_act");
    const c10::cuda::OptionalCUDAGuard guard(x.device());
    BiasActCall call = prepare_bias_act(x, b, dy, ddx, dim, act, alpha, gain, clamp, mode);
    const int64_t n = call.p.numel;
    if (n == 0) return call.out;
    constexpr int kThreads = 256;
    const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 8192);
    const bool small = n <= std::numeric_limits<int32_t>::max() / 2;
    cudaStream_t stream = current_stream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, call.x.scalar_type(), "bias_act", [&] {
        const scalar_t* xp = call.x.const_data_ptr<scalar_t>();
        const scalar_t* bp = call.b.defined() ? call.b.const_data_ptr<scalar_t>() : nullptr;
        const scalar_t* dyp = call.dy.defined() ? call.dy.const_data_ptr<scalar_t>() : nullptr;
        const scalar_t* ddxp = call.ddx.defined() ? call.ddx.const_data_ptr<scalar_t>() : nullptr;
        scalar_t* op = call.out.mutable_data_ptr<scalar_t>();
        if (small) {
            bias_act_kernel<scalar_t, int32_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
                call.p, xp, bp, dyp, ddxp, op);
        } else {
            bias_act_kernel<scalar_t, int64_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
                call.p, xp, bp, dyp, ddxp, op);
        }
        C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    return call.out;
}

}  // namespace sgops
