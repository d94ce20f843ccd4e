// upfirdn2d: zero-insert, pad/crop, FIR filter and decimate a batch of NCHW images.
//
// Tiled path: a block owns one output tile of one image plane at a time. It stages the input
// samples the tile reads in shared memory (zeros outside the image), then computes the outputs
// from there. A 1-D filter is applied in two passes inside the block (x into a row buffer, then
// y), a 2-D filter in one. Planes are visited with a grid-stride loop so the filter is loaded
// once per block.
//
// Direct path: one thread per output reads global memory; used when a tile would not fit in
// shared memory (very long 2-D filters or large decimation factors).
#pragma once

#include "common.h"

namespace sgops {

struct UpFirDnParams {
    int N, C, H, W;     // input
    int OH, OW;         // output
    int64_t xs_n, xs_c, xs_h, xs_w;  // input strides, in elements
    int64_t ys_n, ys_c, ys_h, ys_w;  // output strides
    Axis ax, ay;        // resampling along x and y (taps are the filter's width and height)
    bool has_filter;    // false: the one-tap identity filter
    bool separable;     // 1-D filter along x then y, each pass scaled by sqrt(gain)
    bool flip;          // flip_filter
    double gain;
    // Launch plan (tiled path).
    int tile_w, tile_h, tiles_x, tiles_y;
    int in_w, in_h;     // input samples staged per tile
    int64_t smem_bytes;
};

SG_HD int filter_elems(const UpFirDnParams& p) {
    return p.separable ? p.ax.taps : p.ax.taps * p.ay.taps;
}

// Shared memory the tiled path needs for a tile of th x tw outputs, in units of A.
inline int64_t upfirdn_tile_elems(const UpFirDnParams& p, int th, int tw) {
    const int64_t ih = source_extent(p.ay, th), iw = source_extent(p.ax, tw);
    return filter_elems(p) + ih * iw + (p.separable ? ih * tw : 0);
}

// Pick the largest tile whose staging fits in `smem_limit` bytes; false if none does.
inline bool plan_upfirdn(UpFirDnParams& p, int acc_bytes, int64_t smem_limit) {
    static const int kTiles[][2] = {{32, 32}, {16, 32}, {16, 16}, {8, 16}, {8, 8},
                                    {4, 8},   {4, 4},   {2, 4},   {2, 2},  {1, 1}};
    for (const auto& t : kTiles) {
        const int th = t[0] < p.OH ? t[0] : p.OH;
        const int tw = t[1] < p.OW ? t[1] : p.OW;
        const int64_t bytes = upfirdn_tile_elems(p, th, tw) * acc_bytes;
        if (bytes <= smem_limit) {
            p.tile_h = th;
            p.tile_w = tw;
            p.tiles_y = (p.OH + th - 1) / th;
            p.tiles_x = (p.OW + tw - 1) / tw;
            p.in_h = source_extent(p.ay, th);
            p.in_w = source_extent(p.ax, tw);
            p.smem_bytes = bytes;
            return true;
        }
    }
    return false;
}

// Load the filter into `g` in correlation order, gain included.
template <typename A>
SG_HD_BODY void load_filter(const float* f, int kw, int kh, bool separable, bool flip,
                            double gain, A* g, int tid, int nthr) {
    if (separable) {
        const A scale = static_cast<A>(sqrt(gain));
        for (int t = tid; t < kw; t += nthr) g[t] = static_cast<A>(f[tap_index(t, kw, flip)]) * scale;
    } else {
        const A scale = static_cast<A>(gain);
        for (int i = tid; i < kw * kh; i += nthr) {
            const int ty = i / kw, tx = i % kw;
            const float v = f == nullptr ? 1.0f : f[tap_index(ty, kh, flip) * kw + tap_index(tx, kw, flip)];
            g[i] = static_cast<A>(v) * scale;
        }
    }
}

// The work of one block of the tiled path: output tile `tile` of planes plane0, plane0 + step, ...
template <typename T, typename A>
SG_HD_BODY void upfirdn_block(const UpFirDnParams& p, const T* x, const float* f, T* y, A* smem,
                              int tile, int plane0, int step, int tid, int nthr) {
    A* g = smem;
    A* in = g + filter_elems(p);
    A* mid = in + p.in_h * p.in_w;  // separable only: x-filtered rows [in_h][tile_w]
    load_filter<A>(p.has_filter ? f : nullptr, p.ax.taps, p.ay.taps, p.separable, p.flip, p.gain,
                   g, tid, nthr);

    const int ox0 = (tile % p.tiles_x) * p.tile_w;
    const int oy0 = (tile / p.tiles_x) * p.tile_h;
    const int sx0 = first_source(p.ax, ox0);
    const int sy0 = first_source(p.ay, oy0);
    const int in_count = p.in_h * p.in_w;
    const int out_count = p.tile_h * p.tile_w;

    for (int plane = plane0; plane < p.N * p.C; plane += step) {
        const int n = plane / p.C, c = plane % p.C;
        const T* xp = x + n * p.xs_n + c * p.xs_c;
        T* yp = y + n * p.ys_n + c * p.ys_c;

        SG_SYNC();  // the filter is loaded / the previous plane is done with `in` and `mid`
        for (int i = tid; i < in_count; i += nthr) {
            const int iy = sy0 + i / p.in_w, ix = sx0 + i % p.in_w;
            const bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
            in[i] = inside ? static_cast<A>(xp[iy * p.xs_h + ix * p.xs_w]) : A(0);
        }
        SG_SYNC();

        if (p.separable) {
            const int mid_count = p.in_h * p.tile_w;
            for (int i = tid; i < mid_count; i += nthr) {
                const int r = i / p.tile_w, j = i % p.tile_w;
                mid[i] = resample_1d<A>(in + r * p.in_w, 1, sx0, p.in_w, g, p.ax, ox0 + j);
            }
            SG_SYNC();
            for (int i = tid; i < out_count; i += nthr) {
                const int oy = oy0 + i / p.tile_w, j = i % p.tile_w, ox = ox0 + j;
                if (oy >= p.OH || ox >= p.OW) continue;
                const A v = resample_1d<A>(mid + j, p.tile_w, sy0, p.in_h, g, p.ay, oy);
                yp[oy * p.ys_h + ox * p.ys_w] = static_cast<T>(v);
            }
        } else {
            for (int i = tid; i < out_count; i += nthr) {
                const int oy = oy0 + i / p.tile_w, ox = ox0 + i % p.tile_w;
                if (oy >= p.OH || ox >= p.OW) continue;
                const A v = resample_2d<A>(in, p.in_w, sy0, sx0, p.in_h, p.in_w, g, p.ay, p.ax, oy, ox);
                yp[oy * p.ys_h + ox * p.ys_w] = static_cast<T>(v);
            }
        }
    }
}

// One output of the direct path (global index over N*C*OH*OW, row-major NCHW order).
template <typename T, typename A>
SG_HD_BODY void upfirdn_direct_element(const UpFirDnParams& p, const T* x, const float* f, T* y,
                                       int64_t idx) {
    const int ox = static_cast<int>(idx % p.OW);
    const int oy = static_cast<int>((idx / p.OW) % p.OH);
    const int64_t plane = idx / (static_cast<int64_t>(p.OW) * p.OH);
    const int n = static_cast<int>(plane / p.C), c = static_cast<int>(plane % p.C);
    const T* xp = x + n * p.xs_n + c * p.xs_c;
    const Axis& ax = p.ax;
    const Axis& ay = p.ay;
    const int vy = oy * ay.down - ay.pad0, vx = ox * ax.down - ax.pad0;
    const int nx0 = ceil_div(vx, ax.up), tx0 = nx0 * ax.up - vx;
    int ny = ceil_div(vy, ay.up);
    A acc = A(0);
    for (int ty = ny * ay.up - vy; ty < ay.taps; ty += ay.up, ++ny) {
        if (ny < 0 || ny >= p.H) continue;
        int nx = nx0;
        for (int tx = tx0; tx < ax.taps; tx += ax.up, ++nx) {
            if (nx < 0 || nx >= p.W) continue;
            A w = A(1);
            if (p.has_filter) {
                const int fy = tap_index(ty, ay.taps, p.flip), fx = tap_index(tx, ax.taps, p.flip);
                w = p.separable ? static_cast<A>(f[fy]) * static_cast<A>(f[fx])
                                : static_cast<A>(f[fy * ax.taps + fx]);
            }
            acc += w * static_cast<A>(xp[ny * p.xs_h + nx * p.xs_w]);
        }
    }
    y[n * p.ys_n + c * p.ys_c + oy * p.ys_h + ox * p.ys_w] = static_cast<T>(acc * static_cast<A>(p.gain));
}

}  // namespace sgops
