// filtered_lrelu: x + b -> upsample through fu (padding applies to the upsampled image, gain
// up^2) -> leaky ReLU * gain -> clamp -> downsample through fd, in one pass over the input.
//
// A block owns one output tile of one plane at a time. It stages the input samples the tile
// depends on (bias added; zeros outside the image), upsamples them into an intermediate tile at
// the high sampling rate, applies the nonlinearity there, and downsamples into the outputs. The
// high-rate image never reaches global memory. Each filter is 2-D (one pass) or 1-D (an x pass
// into a row buffer, then a y pass).
#pragma once

#include "upfirdn2d.h"  // load_filter

namespace sgops {

struct FilteredLReluParams {
    int N, C, H, W;   // input
    int OH, OW;       // output
    int64_t xs_n, xs_c, xs_h, xs_w;
    int64_t ys_n, ys_c, ys_h, ys_w;
    // Upsampling stage (input -> high rate): up, down 1, taps of fu, pad0 = padding before.
    Axis ux, uy;
    // Downsampling stage (high rate -> output): up 1, down, taps of fd, no padding.
    Axis dx, dy;
    bool has_fu, sep_fu, has_fd, sep_fd, has_bias, flip;
    double up_gain;   // up^2: keeps the magnitude through zero insertion
    double gain, slope, clamp;  // clamp < 0: none
    // Launch plan.
    int tile_w, tile_h, tiles_x, tiles_y;
    int mid_w, mid_h;  // high-rate samples per tile
    int in_w, in_h;    // input samples per tile
    int64_t smem_bytes;
};

SG_HD int fu_elems(const FilteredLReluParams& p) { return p.sep_fu ? p.ux.taps : p.ux.taps * p.uy.taps; }
SG_HD int fd_elems(const FilteredLReluParams& p) { return p.sep_fd ? p.dx.taps : p.dx.taps * p.dy.taps; }

inline int64_t flrelu_tile_elems(const FilteredLReluParams& p, int th, int tw) {
    const int64_t mh = source_extent(p.dy, th), mw = source_extent(p.dx, tw);
    const int64_t ih = source_extent(p.uy, static_cast<int>(mh));
    const int64_t iw = source_extent(p.ux, static_cast<int>(mw));
    return fu_elems(p) + fd_elems(p) + ih * iw + (p.sep_fu ? ih * mw : 0) + mh * mw +
           (p.sep_fd ? mh * tw : 0);
}

inline bool plan_flrelu(FilteredLReluParams& p, int acc_bytes, int64_t smem_limit) {
    static const int kTiles[][2] = {{16, 32}, {16, 16}, {8, 16}, {8, 8}, {4, 8},
                                    {4, 4},   {2, 4},   {2, 2},  {1, 2}, {1, 1}};
    for (const auto& t : kTiles) {
        const int th = t[0] < p.OH ? t[0] : p.OH;
        const int tw = t[1] < p.OW ? t[1] : p.OW;
        const int64_t bytes = flrelu_tile_elems(p, th, tw) * acc_bytes;
        if (bytes <= smem_limit) {
            p.tile_h = th;
            p.tile_w = tw;
            p.tiles_y = (p.OH + th - 1) / th;
            p.tiles_x = (p.OW + tw - 1) / tw;
            p.mid_h = source_extent(p.dy, th);
            p.mid_w = source_extent(p.dx, tw);
            p.in_h = source_extent(p.uy, p.mid_h);
            p.in_w = source_extent(p.ux, p.mid_w);
            p.smem_bytes = bytes;
            return true;
        }
    }
    return false;
}

template <typename T, typename A>
SG_HD_BODY void flrelu_block(const FilteredLReluParams& p, const T* x, const T* b, const float* fu,
                             const float* fd, T* y, A* smem, int tile, int plane0, int step,
                             int tid, int nthr) {
    A* gu = smem;
    A* gd = gu + fu_elems(p);
    A* in = gd + fd_elems(p);
    A* ubuf = in + p.in_h * p.in_w;                           // [in_h][mid_w] if sep_fu
    A* mid = ubuf + (p.sep_fu ? p.in_h * p.mid_w : 0);        // [mid_h][mid_w]
    A* dbuf = mid + p.mid_h * p.mid_w;                        // [mid_h][tile_w] if sep_fd
    load_filter<A>(p.has_fu ? fu : nullptr, p.ux.taps, p.uy.taps, p.sep_fu, p.flip, p.up_gain, gu,
                   tid, nthr);
    load_filter<A>(p.has_fd ? fd : nullptr, p.dx.taps, p.dy.taps, p.sep_fd, p.flip, 1.0, gd, tid,
                   nthr);

    const int ox0 = (tile % p.tiles_x) * p.tile_w;
    const int oy0 = (tile / p.tiles_x) * p.tile_h;
    const int mx0 = first_source(p.dx, ox0), my0 = first_source(p.dy, oy0);
    const int ix0 = first_source(p.ux, mx0), iy0 = first_source(p.uy, my0);
    const A slope = static_cast<A>(p.slope), gain = static_cast<A>(p.gain);
    const A clamp = static_cast<A>(p.clamp);
    const bool do_clamp = p.clamp >= 0;
    const int in_count = p.in_h * p.in_w;
    const int mid_count = p.mid_h * p.mid_w;
    const int out_count = p.tile_h * p.tile_w;

    for (int plane = plane0; plane < p.N * p.C; plane += step) {
        const int n = plane / p.C, c = plane % p.C;
        const T* xp = x + n * p.xs_n + c * p.xs_c;
        T* yp = y + n * p.ys_n + c * p.ys_c;
        const A bias = p.has_bias ? static_cast<A>(b[c]) : A(0);

        SG_SYNC();
        for (int i = tid; i < in_count; i += nthr) {
            const int iy = iy0 + i / p.in_w, ix = ix0 + i % p.in_w;
            const bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
            in[i] = inside ? static_cast<A>(xp[iy * p.xs_h + ix * p.xs_w]) + bias : A(0);
        }
        SG_SYNC();

        // Upsample to the high rate, then the nonlinearity.
        if (p.sep_fu) {
            const int ucount = p.in_h * p.mid_w;
            for (int i = tid; i < ucount; i += nthr) {
                const int r = i / p.mid_w, j = i % p.mid_w;
                ubuf[i] = resample_1d<A>(in + r * p.in_w, 1, ix0, p.in_w, gu, p.ux, mx0 + j);
            }
            SG_SYNC();
        }
        for (int i = tid; i < mid_count; i += nthr) {
            const int r = i / p.mid_w, j = i % p.mid_w;
            A v = p.sep_fu ? resample_1d<A>(ubuf + j, p.mid_w, iy0, p.in_h, gu, p.uy, my0 + r)
                           : resample_2d<A>(in, p.in_w, iy0, ix0, p.in_h, p.in_w, gu, p.uy, p.ux,
                                            my0 + r, mx0 + j);
            v = v > A(0) ? v : v * slope;
            v *= gain;
            if (do_clamp) v = v > clamp ? clamp : (v < -clamp ? -clamp : v);
            mid[i] = v;
        }
        SG_SYNC();

        // Downsample to the output.
        if (p.sep_fd) {
            const int dcount = p.mid_h * p.tile_w;
            for (int i = tid; i < dcount; i += nthr) {
                const int r = i / p.tile_w, j = i % p.tile_w;
                dbuf[i] = resample_1d<A>(mid + r * p.mid_w, 1, mx0, p.mid_w, gd, p.dx, ox0 + j);
            }
            SG_SYNC();
        }
        for (int i = tid; i < out_count; i += nthr) {
            const int oy = oy0 + i / p.tile_w, j = i % p.tile_w, ox = ox0 + j;
            if (oy >= p.OH || ox >= p.OW) continue;
            const A v = p.sep_fd ? resample_1d<A>(dbuf + j, p.tile_w, my0, p.mid_h, gd, p.dy, oy)
                                 : resample_2d<A>(mid, p.mid_w, my0, mx0, p.mid_h, p.mid_w, gd,
                                                  p.dy, p.dx, oy, ox);
            yp[oy * p.ys_h + ox * p.ys_w] = static_cast<T>(v);
        }
    }
}

}  // namespace sgops
