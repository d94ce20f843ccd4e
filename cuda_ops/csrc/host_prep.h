// Host side of every op, shared by the CUDA launchers and the CPU emulator: argument checks,
// output allocation and the parameter block each kernel reads. Nothing here touches a device.
#pragma once

#include <ATen/ATen.h>
#include <ATen/WrapDimUtils.h>

#include <optional>

#include "bias_act.h"
#include "filtered_lrelu.h"
#include "upfirdn2d.h"

namespace sgops {

constexpr int64_t kDefaultSmemLimit = 48 * 1024;  // what every CUDA GPU gives without opt-in

inline int acc_bytes(const at::Tensor& x) { return x.scalar_type() == at::kDouble ? 8 : 4; }

inline void check_float(const at::Tensor& x, const char* what) {
    const auto t = x.scalar_type();
    TORCH_CHECK(t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16, what,
                ": unsupported dtype ", t);
}

// A filter as the kernels read it: float32, contiguous, on x's device.
inline at::Tensor prepare_filter(const std::optional<at::Tensor>& f, const at::Tensor& x, const char* what) {
    if (!f.has_value() || !f->defined()) return at::Tensor();
    TORCH_CHECK(f->dim() == 1 || f->dim() == 2, what, ": filter must be 1-D or 2-D, got ", f->dim(), "-D");
    TORCH_CHECK(f->numel() > 0, what, ": empty filter");
    return f->to(x.device(), at::kFloat).contiguous();
}

// ------------------------------------------------------------------------------------ bias_act

struct BiasActCall {
    BiasActParams p{};
    at::Tensor x, b, dy, ddx, out;
};

inline BiasActCall prepare_bias_act(const at::Tensor& x_in, const std::optional<at::Tensor>& b,
                                    const std::optional<at::Tensor>& dy,
                                    const std::optional<at::Tensor>& ddx, int64_t dim, int64_t act,
                                    double alpha, double gain, double clamp, int64_t mode) {
    check_float(x_in, "bias_act");
    TORCH_CHECK(act >= kLinear && act <= kSigmoid, "bias_act: unknown activation code ", act);
    TORCH_CHECK(mode >= kForward && mode <= kGrad2, "bias_act: unknown mode ", mode);
    BiasActCall call;
    // The element loop walks memory in order, so any dense layout works as it is.
    call.x = x_in.is_non_overlapping_and_dense() ? x_in : x_in.contiguous();
    const at::Tensor& x = call.x;
    // dy and ddx must walk in step with x: same dtype and same strides.
    auto like_x = [&](const std::optional<at::Tensor>& t, const char* name) {
        TORCH_CHECK(t.has_value() && t->defined(), "bias_act: mode ", mode, " needs ", name);
        TORCH_CHECK(t->sizes() == x.sizes(), "bias_act: ", name, " has shape ", t->sizes(),
                    ", x has ", x.sizes());
        at::Tensor r = t->to(x.device(), x.scalar_type());
        if (r.strides() != x.strides()) r = at::empty_like(x).copy_(r);
        return r;
    };
    if (mode >= kGrad) call.dy = like_x(dy, "dy");
    if (mode == kGrad2) call.ddx = like_x(ddx, "ddx");

    BiasActParams& p = call.p;
    p.numel = x.numel();
    p.bias_stride = 1;
    p.bias_size = 1;
    if (b.has_value() && b->defined()) {
        TORCH_CHECK(x.dim() > 0, "bias_act: a bias needs x with at least one dimension");
        const int64_t d = at::maybe_wrap_dim(dim, x.dim());
        TORCH_CHECK(b->dim() == 1 && b->numel() == x.size(d), "bias_act: bias of shape ", b->sizes(),
                    " does not match dimension ", d, " of x ", x.sizes());
        call.b = b->to(x.device(), x.scalar_type()).contiguous();
        p.bias_size = x.size(d);
        p.bias_stride = x.stride(d) > 0 ? x.stride(d) : 1;
    }
    p.act = static_cast<int>(act);
    p.mode = static_cast<int>(mode);
    p.alpha = alpha;
    p.gain = gain;
    p.clamp = clamp;
    call.out = at::empty_like(x);  // same strides as x (x is dense)
    return call;
}

// ----------------------------------------------------------------------------------- upfirdn2d

struct UpFirDnCall {
    UpFirDnParams p{};
    at::Tensor x, f, out;
    bool tiled = false;
};

inline UpFirDnCall prepare_upfirdn2d(const at::Tensor& x, const std::optional<at::Tensor>& f,
                                     int64_t upx, int64_t upy, int64_t downx, int64_t downy,
                                     int64_t px0, int64_t px1, int64_t py0, int64_t py1, bool flip,
                                     double gain, int64_t smem_limit) {
    check_float(x, "upfirdn2d");
    TORCH_CHECK(x.dim() == 4, "upfirdn2d: x must be [N, C, H, W], got ", x.sizes());
    TORCH_CHECK(upx >= 1 && upy >= 1 && downx >= 1 && downy >= 1, "upfirdn2d: up and down must be >= 1");
    UpFirDnCall call;
    call.x = x;
    call.f = prepare_filter(f, x, "upfirdn2d");
    UpFirDnParams& p = call.p;
    p.has_filter = call.f.defined();
    p.separable = p.has_filter && call.f.dim() == 1;
    const int kw = !p.has_filter ? 1 : static_cast<int>(call.f.size(p.separable ? 0 : 1));
    const int kh = !p.has_filter ? 1 : static_cast<int>(call.f.size(0));
    p.N = static_cast<int>(x.size(0));
    p.C = static_cast<int>(x.size(1));
    p.H = static_cast<int>(x.size(2));
    p.W = static_cast<int>(x.size(3));
    const int64_t hp = x.size(2) * upy + py0 + py1, wp = x.size(3) * upx + px0 + px1;
    TORCH_CHECK(hp >= kh && wp >= kw, "upfirdn2d: padded size ", hp, "x", wp,
                " is smaller than the filter ", kh, "x", kw);
    p.OH = static_cast<int>((hp - kh) / downy + 1);
    p.OW = static_cast<int>((wp - kw) / downx + 1);
    p.ax = Axis{static_cast<int>(upx), static_cast<int>(downx), kw, static_cast<int>(px0)};
    p.ay = Axis{static_cast<int>(upy), static_cast<int>(downy), kh, static_cast<int>(py0)};
    p.flip = flip;
    p.gain = gain;
    call.out = at::empty({x.size(0), x.size(1), p.OH, p.OW},
                         x.options().memory_format(x.suggest_memory_format()));
    p.xs_n = x.stride(0); p.xs_c = x.stride(1); p.xs_h = x.stride(2); p.xs_w = x.stride(3);
    const at::Tensor& y = call.out;
    p.ys_n = y.stride(0); p.ys_c = y.stride(1); p.ys_h = y.stride(2); p.ys_w = y.stride(3);
    call.tiled = plan_upfirdn(p, acc_bytes(x), smem_limit > 0 ? smem_limit : kDefaultSmemLimit);
    return call;
}

// ------------------------------------------------------------------------------ filtered_lrelu

struct FilteredLReluCall {
    FilteredLReluParams p{};
    at::Tensor x, b, fu, fd, out;
    bool planned = false;  // false: the tile does not fit in shared memory (compose instead)
};

inline FilteredLReluCall prepare_filtered_lrelu(const at::Tensor& x, const std::optional<at::Tensor>& fu,
                                                const std::optional<at::Tensor>& fd,
                                                const std::optional<at::Tensor>& b, int64_t up,
                                                int64_t down, int64_t px0, int64_t px1, int64_t py0,
                                                int64_t py1, double gain, double slope, double clamp,
                                                bool flip, int64_t smem_limit) {
    check_float(x, "filtered_lrelu");
    TORCH_CHECK(x.dim() == 4, "filtered_lrelu: x must be [N, C, H, W], got ", x.sizes());
    TORCH_CHECK(up >= 1 && down >= 1, "filtered_lrelu: up and down must be >= 1");
    FilteredLReluCall call;
    call.x = x;
    call.fu = prepare_filter(fu, x, "filtered_lrelu");
    call.fd = prepare_filter(fd, x, "filtered_lrelu");
    FilteredLReluParams& p = call.p;
    p.N = static_cast<int>(x.size(0));
    p.C = static_cast<int>(x.size(1));
    p.H = static_cast<int>(x.size(2));
    p.W = static_cast<int>(x.size(3));
    p.has_fu = call.fu.defined();
    p.sep_fu = p.has_fu && call.fu.dim() == 1;
    p.has_fd = call.fd.defined();
    p.sep_fd = p.has_fd && call.fd.dim() == 1;
    const int kuw = !p.has_fu ? 1 : static_cast<int>(call.fu.size(p.sep_fu ? 0 : 1));
    const int kuh = !p.has_fu ? 1 : static_cast<int>(call.fu.size(0));
    const int kdw = !p.has_fd ? 1 : static_cast<int>(call.fd.size(p.sep_fd ? 0 : 1));
    const int kdh = !p.has_fd ? 1 : static_cast<int>(call.fd.size(0));
    const int64_t hu = x.size(2) * up + py0 + py1 - kuh + 1;
    const int64_t wu = x.size(3) * up + px0 + px1 - kuw + 1;
    TORCH_CHECK(hu >= kdh && wu >= kdw, "filtered_lrelu: upsampled size ", hu, "x", wu,
                " is smaller than the downsampling filter ", kdh, "x", kdw);
    p.OH = static_cast<int>((hu - kdh) / down + 1);
    p.OW = static_cast<int>((wu - kdw) / down + 1);
    p.ux = Axis{static_cast<int>(up), 1, kuw, static_cast<int>(px0)};
    p.uy = Axis{static_cast<int>(up), 1, kuh, static_cast<int>(py0)};
    p.dx = Axis{1, static_cast<int>(down), kdw, 0};
    p.dy = Axis{1, static_cast<int>(down), kdh, 0};
    p.flip = flip;
    p.up_gain = static_cast<double>(up * up);
    p.gain = gain;
    p.slope = slope;
    p.clamp = clamp;
    p.has_bias = b.has_value() && b->defined();
    if (p.has_bias) {
        TORCH_CHECK(b->dim() == 1 && b->numel() == x.size(1), "filtered_lrelu: bias of shape ",
                    b->sizes(), " does not match ", x.size(1), " channels");
        call.b = b->to(x.device(), x.scalar_type()).contiguous();
    }
    call.planned = plan_flrelu(p, acc_bytes(x), smem_limit > 0 ? smem_limit : kDefaultSmemLimit);
    if (!call.planned) return call;
    call.out = at::empty({x.size(0), x.size(1), p.OH, p.OW},
                         x.options().memory_format(x.suggest_memory_format()));
    p.xs_n = x.stride(0); p.xs_c = x.stride(1); p.xs_h = x.stride(2); p.xs_w = x.stride(3);
    const at::Tensor& y = call.out;
    p.ys_n = y.stride(0); p.ys_c = y.stride(1); p.ys_h = y.stride(2); p.ys_w = y.stride(3);
    return call;
}

// Blocks per launch along y (planes); the block loop strides over the rest.
inline int plane_blocks(int planes) { return planes < 65535 ? planes : 65535; }

// Threads per block for a tile of `count` outputs: whole warps, at most 256.
inline int block_threads(int count) {
    int t = (count + 31) / 32 * 32;
    return t < 32 ? 32 : (t > 256 ? 256 : t);
}

}  // namespace sgops
