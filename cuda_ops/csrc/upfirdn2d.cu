// upfirdn2d on the GPU: the tiled kernel (shared memory), or the direct one when a tile's
// working set does not fit.
#include "cuda_launch.h"
#include "ops.h"

#include <ATen/Dispatch.h>

#include <algorithm>

namespace sgops {
namespace {

template <typename T>
__global__ void upfirdn_tiled_kernel(UpFirDnParams p, const T* x, const float* f, T* y) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    using A = typename Acc<T>::type;
    upfirdn_block<T, A>(p, x, f, y, reinterpret_cast<A*>(smem_raw), static_cast<int>(blockIdx.x),
                        static_cast<int>(blockIdx.y), static_cast<int>(gridDim.y),
                        static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x));
}

template <typename T>
__global__ void upfirdn_direct_kernel(UpFirDnParams p, const T* x, const float* f, T* y, int64_t total) {
    using A = typename Acc<T>::type;
    const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
        upfirdn_direct_element<T, A>(p, x, f, y, i);
    }
}

}  // namespace

at::Tensor upfirdn2d_cuda(const at::Tensor& x, const std::optional<at::Tensor>& f, int64_t upx,
                          int64_t upy, int64_t downx, int64_t downy, int64_t px0, int64_t px1,
                          int64_t py0, int64_t py1, bool flip, double gain, int64_t smem_limit) {
    check_cuda(x, "upfirdn2d");
    const c10::cuda::OptionalCUDAGuard guard(x.device());
    UpFirDnCall call = prepare_upfirdn2d(x, f, upx, upy, downx, downy, px0, px1, py0, py1, flip,
                                         gain, smem_limit);
    const UpFirDnParams& p = call.p;
    const int64_t total = call.out.numel();
    if (total == 0) return call.out;
    cudaStream_t stream = current_stream();
    const float* fp = call.f.defined() ? call.f.const_data_ptr<float>() : nullptr;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "upfirdn2d", [&] {
        const scalar_t* xp = call.x.const_data_ptr<scalar_t>();
        scalar_t* yp = call.out.mutable_data_ptr<scalar_t>();
        if (call.tiled) {
            const dim3 grid(static_cast<unsigned>(p.tiles_x * p.tiles_y),
                            static_cast<unsigned>(plane_blocks(p.N * p.C)));
            const int threads = block_threads(p.tile_h * p.tile_w);
            upfirdn_tiled_kernel<scalar_t><<<grid, threads, static_cast<size_t>(p.smem_bytes), stream>>>(
                p, xp, fp, yp);
        } else {
            constexpr int kThreads = 256;
            const int64_t blocks = std::min<int64_t>((total + kThreads - 1) / kThreads, 65536);
            upfirdn_direct_kernel<scalar_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
                p, xp, fp, yp, total);
        }
        C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    return call.out;
}

}  // namespace sgops
