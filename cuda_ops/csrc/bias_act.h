// bias_act: y = clamp(act(x + b) * gain, -clamp, clamp), element by element, and its first and
// second derivatives with respect to x. The derivatives recompute x + b from the saved inputs,
// so autograd only keeps x and b alive (no copy of the pre-activation).
#pragma once

#include "common.h"

namespace sgops {

enum ActKind : int { kLinear = 0, kRelu = 1, kLrelu = 2, kTanh = 3, kSigmoid = 4 };

// What the element function computes.
enum BiasActMode : int {
    kForward = 0,   // y
    kGrad = 1,      // dy * dy/dx
    kGrad2 = 2,     // ddx * dy * d2y/dx2 (the x-part of the gradient of kGrad)
};

struct BiasActParams {
    int64_t numel;
    int64_t bias_stride;  // memory distance between consecutive indices of the bias dimension
    int64_t bias_size;    // length of that dimension
    int act;
    int mode;
    double alpha;  // leaky ReLU slope
    double gain;
    double clamp;  // < 0: no clamp
};

// act(z), act'(z) and act''(z) at one point.
template <typename A>
struct ActValue {
    A f, d1, d2;
};

template <typename A>
SG_HD ActValue<A> activate(int act, A z, A alpha) {
    ActValue<A> r{z, A(1), A(0)};
    switch (act) {
        case kRelu:
            r.f = z > A(0) ? z : A(0);
            r.d1 = z > A(0) ? A(1) : A(0);
            break;
        case kLrelu:
            r.f = z > A(0) ? z : z * alpha;
            r.d1 = z > A(0) ? A(1) : alpha;
            break;
        case kTanh: {
            const A t = sg_tanh(z);
            r.f = t;
            r.d1 = A(1) - t * t;
            r.d2 = A(-2) * t * r.d1;
            break;
        }
        case kSigmoid: {
            const A s = A(1) / (A(1) + sg_exp(-z));
            r.f = s;
            r.d1 = s * (A(1) - s);
            r.d2 = r.d1 * (A(1) - A(2) * s);
            break;
        }
        default:
            break;
    }
    return r;
}

// One element. `b`, `dy` and `ddx` may be null when the mode does not use them; dy and ddx share
// x's memory layout.
template <typename T, typename A, typename I>
SG_HD void bias_act_element(const BiasActParams& p, const T* x, const T* b, const T* dy,
                            const T* ddx, T* out, I i) {
    A z = static_cast<A>(x[i]);
    if (b != nullptr) {
        const I channel = (i / static_cast<I>(p.bias_stride)) % static_cast<I>(p.bias_size);
        z += static_cast<A>(b[channel]);
    }
    const ActValue<A> a = activate<A>(p.act, z, static_cast<A>(p.alpha));
    const A gain = static_cast<A>(p.gain);
    const A y = a.f * gain;
    if (p.mode == kForward) {
        A r = y;
        if (p.clamp >= 0) {
            const A c = static_cast<A>(p.clamp);
            r = r > c ? c : (r < -c ? -c : r);
        }
        out[i] = static_cast<T>(r);
        return;
    }
    // The clamp passes gradient where -clamp <= y <= clamp (both ends included, NaN excluded).
    bool pass = true;
    if (p.clamp >= 0) {
        const A c = static_cast<A>(p.clamp);
        pass = (y >= -c) && (y <= c);
    }
    A r = A(0);
    if (pass) {
        const A g = static_cast<A>(dy[i]) * gain;
        r = (p.mode == kGrad) ? g * a.d1 : g * a.d2 * static_cast<A>(ddx[i]);
    }
    out[i] = static_cast<T>(r);
}

}  // namespace sgops
