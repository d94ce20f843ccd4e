// CUDA-only helpers for the launchers. Only c10's CUDA headers (device guard, current stream,
// launch check): ATen/cuda/CUDAContext.h would also pull in the cuBLAS/cuSPARSE/cuSOLVER headers.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "host_prep.h"

namespace sgops {

inline void check_cuda(const at::Tensor& x, const char* what) {
    TORCH_CHECK(x.is_cuda(), what, ": x must be a CUDA tensor");
}

inline cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

}  // namespace sgops
