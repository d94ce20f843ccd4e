// Building blocks shared by every kernel in this folder.
//
// Everything here compiles twice: by nvcc for the GPU, and by a plain C++ compiler for the CPU
// emulator (emulate.cpp), which runs each thread block's work on one CPU thread. That is how the
// index arithmetic of the kernels is tested on machines without a GPU.
#pragma once

#include <cstdint>
#include <cmath>

#if defined(__CUDACC__)
#define SG_HD __host__ __device__ __forceinline__
#define SG_HD_BODY __host__ __device__ inline
#else
#define SG_HD inline
#define SG_HD_BODY inline
#endif

// A barrier between the phases of a block's work. The emulator runs a whole block on one
// thread, phase after phase, so it needs none.
#if defined(__CUDA_ARCH__)
#define SG_SYNC() __syncthreads()
#else
#define SG_SYNC() ((void)0)
#endif

// Bounds checks on shared-memory indexing: on in the emulator, compiled out on the GPU.
#if defined(SG_EMULATE)
#include <stdexcept>
#define SG_ASSERT(cond)                                                                        \
    do {                                                                                       \
        if (!(cond)) throw std::out_of_range("sgops: " #cond);                                 \
    } while (0)
#else
#define SG_ASSERT(cond) ((void)0)
#endif

namespace sgops {

// Arithmetic type: fp16/bf16/fp32 data are computed in fp32, fp64 data in fp64.
template <typename T>
struct Acc {
    using type = float;
};
template <>
struct Acc<double> {
    using type = double;
};

// Division rounding towards -inf / +inf, for a positive divisor.
SG_HD int floor_div(int a, int b) {
    int q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}
SG_HD int ceil_div(int a, int b) { return -floor_div(-a, b); }

SG_HD float sg_tanh(float v) { return tanhf(v); }
SG_HD double sg_tanh(double v) { return tanh(v); }
SG_HD float sg_exp(float v) { return expf(v); }
SG_HD double sg_exp(double v) { return exp(v); }

// ---------------------------------------------------------------------------------------------
// One axis of a resampling stage.
//
// The stage turns a source signal s[n] into d[m] = sum_t g[t] * u[m*down + t - pad0], where u is
// s with up-1 zeros inserted after every sample (u[n*up] = s[n]) and g is the filter in
// correlation order (taps already flipped and scaled). Only taps that land on a real sample
// contribute: for output m they are n = ceil((m*down - pad0) / up), ... while t < taps.
struct Axis {
    int up;
    int down;
    int taps;
    int pad0;
};

// First source index that output `m` reads.
SG_HD int first_source(const Axis& a, int m) { return ceil_div(m * a.down - a.pad0, a.up); }

// Number of consecutive source samples that `count` consecutive outputs can read, starting at
// first_source(first output). Exact upper bound, independent of where the outputs start.
SG_HD int source_extent(const Axis& a, int count) {
    return floor_div((count - 1) * a.down + a.taps - 1, a.up) + 1;
}

// d[m] for one axis. `src[k * step]` holds source sample s0 + k, for 0 <= k < extent.
template <typename A>
SG_HD A resample_1d(const A* src, int step, int s0, int extent, const A* g, const Axis& a, int m) {
    const int v = m * a.down - a.pad0;
    int n = ceil_div(v, a.up);
    A acc = A(0);
    for (int t = n * a.up - v; t < a.taps; t += a.up, ++n) {
        SG_ASSERT(n - s0 >= 0 && n - s0 < extent);
        acc += g[t] * src[(n - s0) * step];
    }
    return acc;
}

// d[my][mx] for a 2-D filter g[ty * ax.taps + tx]. `src` is a row-major tile whose element
// [r][k] (row stride `stride`) holds source sample (sy0 + r, sx0 + k).
template <typename A>
SG_HD A resample_2d(const A* src, int stride, int sy0, int sx0, int rows, int cols, const A* g,
                    const Axis& ay, const Axis& ax, int my, int mx) {
    const int vy = my * ay.down - ay.pad0;
    const int vx = mx * ax.down - ax.pad0;
    const int nx0 = ceil_div(vx, ax.up);
    const int tx0 = nx0 * ax.up - vx;
    int ny = ceil_div(vy, ay.up);
    A acc = A(0);
    for (int ty = ny * ay.up - vy; ty < ay.taps; ty += ay.up, ++ny) {
        SG_ASSERT(ny - sy0 >= 0 && ny - sy0 < rows);
        const A* row = src + (ny - sy0) * stride;
        const A* grow = g + ty * ax.taps;
        int nx = nx0;
        for (int tx = tx0; tx < ax.taps; tx += ax.up, ++nx) {
            SG_ASSERT(nx - sx0 >= 0 && nx - sx0 < cols);
            acc += grow[tx] * row[nx - sx0];
        }
    }
    return acc;
}

// Filter tap in correlation order: the op convolves (reverses the taps) unless told to flip,
// which cancels the reversal.
SG_HD int tap_index(int t, int taps, bool flip) { return flip ? t : taps - 1 - t; }

}  // namespace sgops
