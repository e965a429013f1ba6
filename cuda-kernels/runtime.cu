// Runtime helpers of the jalign CUDA backend: devices, streams, memory, errors.
// Every function returns a cudaError_t value as int (0 = success), except device_count (never fails)
// and error_string. The library links cudart statically, so on a machine without a driver the calls
// return an error (e.g. cudaErrorInsufficientDriver / cudaErrorNoDevice) instead of failing to load.
#include <cuda_runtime.h>

#include "jalign/jalign.h"
#include "jalign_cuda.h"

namespace jalign {
namespace cuda {

int device_count() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the (non-sticky) error so later calls start clean
    return 0;
  }
  return n < 0 ? 0 : n;
}

int set_device(int device) { return (int)cudaSetDevice(device); }

int stream_create(void** stream) {
  if (stream == nullptr) return (int)cudaErrorInvalidValue;
  cudaStream_t s = nullptr;
  cudaError_t err = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  *stream = err == cudaSuccess ? (void*)s : nullptr;
  return (int)err;
}

int stream_destroy(void* stream) {
  if (stream == nullptr) return 0;
  return (int)cudaStreamDestroy((cudaStream_t)stream);
}

int stream_synchronize(void* stream) { return (int)cudaStreamSynchronize((cudaStream_t)stream); }

int malloc_device(void** ptr, size_t bytes) {
  if (ptr == nullptr) return (int)cudaErrorInvalidValue;
  *ptr = nullptr;
  // cudaMalloc returns 256-byte aligned memory, more than the 64 bytes the ABI promises.
  return (int)cudaMalloc(ptr, bytes == 0 ? 1 : bytes);
}

int free_device(void* ptr) {
  if (ptr == nullptr) return 0;
  return (int)cudaFree(ptr);
}

int memcpy_async(void* dst, const void* src, size_t bytes, int kind, void* stream) {
  cudaMemcpyKind k;
  switch (kind) {
    case JALIGN_MEMCPY_HOST_TO_DEVICE: k = cudaMemcpyHostToDevice; break;
    case JALIGN_MEMCPY_DEVICE_TO_HOST: k = cudaMemcpyDeviceToHost; break;
    case JALIGN_MEMCPY_DEVICE_TO_DEVICE: k = cudaMemcpyDeviceToDevice; break;
    default: return (int)cudaErrorInvalidMemcpyDirection;
  }
  if (bytes == 0) return 0;
  return (int)cudaMemcpyAsync(dst, src, bytes, k, (cudaStream_t)stream);
}

int memset_zero_async(void* dst, size_t bytes, void* stream) {
  if (bytes == 0) return 0;
  return (int)cudaMemsetAsync(dst, 0, bytes, (cudaStream_t)stream);
}

const char* error_string(int err) { return cudaGetErrorString((cudaError_t)err); }

}  // namespace cuda
}  // namespace jalign
