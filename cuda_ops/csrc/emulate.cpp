// CPU emulator of the CUDA kernels, for testing without a GPU.
//
// It runs the same block and element functions as the kernels (common.h, bias_act.h,
// upfirdn2d.h, filtered_lrelu.h) through the same host-side preparation (host_prep.h), one
// block at a time on one CPU thread. Shared memory is a buffer of exactly the planned size,
// filled with NaN before every block so a read of a value no phase wrote shows up in the
// result; shared-memory indexing is bounds-checked (SG_ASSERT). Not a fast path: tests only.
#define SG_EMULATE 1

#include <torch/extension.h>

#include <limits>
#include <vector>

#include "host_prep.h"

namespace sgops {
namespace emu {

void check_cpu(const at::Tensor& x, const char* what) {
    TORCH_CHECK(x.device().is_cpu(), what, ": the emulator runs on CPU tensors");
}

template <typename A>
std::vector<A> poisoned(int64_t bytes) {
    return std::vector<A>(static_cast<size_t>(bytes) / sizeof(A), std::numeric_limits<A>::quiet_NaN());
}

at::Tensor bias_act(const at::Tensor& x, const std::optional<at::Tensor>& b,
                    const std::optional<at::Tensor>& dy, const std::optional<at::Tensor>& ddx,
                    int64_t dim, int64_t act, double alpha, double gain, double clamp, int64_t mode) {
    check_cpu(x, "bias_act");
    BiasActCall call = prepare_bias_act(x, b, dy, ddx, dim, act, alpha, gain, clamp, mode);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, call.x.scalar_type(), "bias_act", [&] {
        using A = typename Acc<scalar_t>::type;
        const scalar_t* xp = call.x.const_data_ptr<scalar_t>();
        const scalar_t* bp = call.b.defined() ? call.b.const_data_ptr<scalar_t>() : nullptr;
        const scalar_t* dyp = call.dy.defined() ? call.dy.const_data_ptr<scalar_t>() : nullptr;
        const scalar_t* ddxp = call.ddx.defined() ? call.ddx.const_data_ptr<scalar_t>() : nullptr;
        scalar_t* op = call.out.mutable_data_ptr<scalar_t>();
        for (int64_t i = 0; i < call.p.numel; ++i) {
            bias_act_element<scalar_t, A, int64_t>(call.p, xp, bp, dyp, ddxp, op, i);
        }
    });
    return call.out;
}

at::Tensor upfirdn2d(const at::Tensor& x, const std::optional<at::Tensor>& f, int64_t upx,
                     int64_t upy, int64_t downx, int64_t downy, int64_t px0, int64_t px1,
                     int64_t py0, int64_t py1, bool flip, double gain, int64_t smem_limit) {
    check_cpu(x, "upfirdn2d");
    UpFirDnCall call = prepare_upfirdn2d(x, f, upx, upy, downx, downy, px0, px1, py0, py1, flip,
                                         gain, smem_limit);
    const UpFirDnParams& p = call.p;
    const int64_t total = call.out.numel();
    if (total == 0) return call.out;
    const float* fp = call.f.defined() ? call.f.const_data_ptr<float>() : nullptr;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "upfirdn2d", [&] {
        using A = typename Acc<scalar_t>::type;
        const scalar_t* xp = call.x.const_data_ptr<scalar_t>();
        scalar_t* yp = call.out.mutable_data_ptr<scalar_t>();
        if (call.tiled) {
            const int grid_y = plane_blocks(p.N * p.C);
            for (int tile = 0; tile < p.tiles_x * p.tiles_y; ++tile) {
                for (int by = 0; by < grid_y; ++by) {
                    std::vector<A> smem = poisoned<A>(p.smem_bytes);
                    upfirdn_block<scalar_t, A>(p, xp, fp, yp, smem.data(), tile, by, grid_y, 0, 1);
                }
            }
        } else {
            for (int64_t i = 0; i < total; ++i) upfirdn_direct_element<scalar_t, A>(p, xp, fp, yp, i);
        }
    });
    return call.out;
}

at::Tensor filtered_lrelu(const at::Tensor& x, const std::optional<at::Tensor>& fu,
                          const std::optional<at::Tensor>& fd, const std::optional<at::Tensor>& b,
                          int64_t up, int64_t down, int64_t px0, int64_t px1, int64_t py0,
                          int64_t py1, double gain, double slope, double clamp, bool flip,
                          int64_t smem_limit) {
    check_cpu(x, "filtered_lrelu");
    FilteredLReluCall call = prepare_filtered_lrelu(x, fu, fd, b, up, down, px0, px1, py0, py1,
                                                    gain, slope, clamp, flip, smem_limit);
    if (!call.planned) return at::Tensor();
    const FilteredLReluParams& p = call.p;
    if (call.out.numel() == 0) return call.out;
    const float* fup = call.fu.defined() ? call.fu.const_data_ptr<float>() : nullptr;
    const float* fdp = call.fd.defined() ? call.fd.const_data_ptr<float>() : nullptr;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "filtered_lrelu", [&] {
        using A = typename Acc<scalar_t>::type;
        const scalar_t* xp = call.x.const_data_ptr<scalar_t>();
        const scalar_t* bp = call.b.defined() ? call.b.const_data_ptr<scalar_t>() : nullptr;
        scalar_t* yp = call.out.mutable_data_ptr<scalar_t>();
        const int grid_y = plane_blocks(p.N * p.C);
        for (int tile = 0; tile < p.tiles_x * p.tiles_y; ++tile) {
            for (int by = 0; by < grid_y; ++by) {
                std::vector<A> smem = poisoned<A>(p.smem_bytes);
                flrelu_block<scalar_t, A>(p, xp, bp, fup, fdp, yp, smem.data(), tile, by, grid_y, 0, 1);
            }
        }
    });
    return call.out;
}

// The launch plan the GPU would use, for tests: (tiled, tile_h, tile_w, smem_bytes).
std::vector<int64_t> upfirdn2d_plan(const at::Tensor& x, const std::optional<at::Tensor>& f,
                                    int64_t upx, int64_t upy, int64_t downx, int64_t downy,
                                    int64_t px0, int64_t px1, int64_t py0, int64_t py1,
                                    int64_t smem_limit) {
    UpFirDnCall call = prepare_upfirdn2d(x, f, upx, upy, downx, downy, px0, px1, py0, py1, false,
                                         1.0, smem_limit);
    return {call.tiled ? 1 : 0, call.p.tile_h, call.p.tile_w, call.p.smem_bytes};
}

}  // namespace emu
}  // namespace sgops

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.doc() = "CPU emulator of the fused CUDA ops (tests only)";
    m.def("bias_act", &sgops::emu::bias_act);
    m.def("upfirdn2d", &sgops::emu::upfirdn2d);
    m.def("filtered_lrelu", &sgops::emu::filtered_lrelu);
    m.def("upfirdn2d_plan", &sgops::emu::upfirdn2d_plan);
    m.attr("backend") = "emulator";
}
