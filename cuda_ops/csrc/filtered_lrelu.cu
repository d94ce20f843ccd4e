// filtered_lrelu on the GPU: one fused kernel per call (see filtered_lrelu.h).
#include "cuda_launch.h"
#include "ops.h"

#include <ATen/Dispatch.h>

namespace sgops {
namespace {

template <typename T>
__global__ void flrelu_kernel(FilteredLReluParams p, const T* x, const T* b, const float* fu,
                              const float* fd, T* y) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    using A = typename Acc<T>::type;
    flrelu_block<T, A>(p, x, b, fu, fd, y, reinterpret_cast<A*>(smem_raw),
                       static_cast<int>(blockIdx.x), static_cast<int>(blockIdx.y),
                       static_cast<int>(gridDim.y), static_cast<int>(threadIdx.x),
                       static_cast<int>(blockDim.x));
}

}  // namespace

at::Tensor filtered_lrelu_cuda(const at::Tensor& x, const std::optional<at::Tensor>& fu,
                               const std::optional<at::Tensor>& fd,
                               const std::optional<at::Tensor>& b, int64_t up, int64_t down,
                               int64_t px0, int64_t px1, int64_t py0, int64_t py1, double gain,
                               double slope, double clamp, bool flip, int64_t smem_limit) {
    check_cuda(x, "filtered_lrelu");
    const c10::cuda::OptionalCUDAGuard guard(x.device());
    FilteredLReluCall call = prepare_filtered_lrelu(x, fu, fd, b, up, down, px0, px1, py0, py1,
                                                    gain, slope, clamp, flip, smem_limit);
    if (!call.planned) return at::Tensor();
    const FilteredLReluParams& p = call.p;
    if (call.out.numel() == 0) return call.out;
    cudaStream_t stream = current_stream();
    const float* fup = call.fu.defined() ? call.fu.const_data_ptr<float>() : nullptr;
    const float* fdp = call.fd.defined() ? call.fd.const_data_ptr<float>() : nullptr;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "filtered_lrelu", [&] {
        const scalar_t* xp = call.x.const_data_ptr<scalar_t>();
        const scalar_t* bp = call.b.defined() ? call.b.const_data_ptr<scalar_t>() : nullptr;
        scalar_t* yp = call.out.mutable_data_ptr<scalar_t>();
        const dim3 grid(static_cast<unsigned>(p.tiles_x * p.tiles_y),
                        static_cast<unsigned>(plane_blocks(p.N * p.C)));
        const int threads = block_threads(p.tile_h * p.tile_w);
        flrelu_kernel<scalar_t><<<grid, threads, static_cast<size_t>(p.smem_bytes), stream>>>(
            p, xp, bp, fup, fdp, yp);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    return call.out;
}

}  // namespace sgops
