// fake_libcuda.cpp: a stand-in for libcuda.so.1 that runs cnnc's kernels on the CPU, so that
// runtime/cuda (koffi → driver API) is exercised end to end on machines without a GPU.
// Device memory is host memory; cuModuleGetFunction finds "emu_<kernel>" in the library named by
// $CNNC_FAKE_KERNELS (kernels.cu built with cuda_emu.h plus one launcher per kernel, see emu.ts).
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>

typedef void (*Launcher)(unsigned, unsigned, unsigned, unsigned, void**);
static void* kernels = nullptr;

extern "C" {
int cuInit(unsigned) {
  const char* path = getenv("CNNC_FAKE_KERNELS");
  if (!path) return 100;  // CUDA_ERROR_NO_DEVICE
  kernels = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!kernels) { fprintf(stderr, "fake libcuda: %s\n", dlerror()); return 100; }
  return 0;
}
int cuDeviceGetCount(int* n) { *n = 1; return 0; }
int cuDeviceGet(int* d, int) { *d = 0; return 0; }
int cuDeviceGetName(char* name, int len, int) { snprintf(name, len, "cnnc CPU emulator"); return 0; }
int cuDeviceGetAttribute(int* v, int attr, int) { *v = attr == 75 ? 8 : attr == 76 ? 0 : 1; return 0; }  // sm_80
int cuDevicePrimaryCtxRetain(void** ctx, int) { *ctx = (void*)0x1; return 0; }
int cuCtxSetCurrent(void*) { return 0; }
int cuModuleLoadData(void** mod, const void* image) {
  // the real driver JIT-compiles PTX; here only check it looks like PTX
  if (!image || !strstr((const char*)image, ".entry")) return 218;  // CUDA_ERROR_INVALID_PTX
  *mod = (void*)0x2;
  return 0;
}
int cuModuleGetFunction(void** fn, void*, const char* name) {
  *fn = dlsym(kernels, ("emu_" + std::string(name)).c_str());
  return *fn ? 0 : 500;  // CUDA_ERROR_NOT_FOUND
}
int cuMemAlloc_v2(uint64_t* p, size_t n) { *p = (uint64_t)(uintptr_t)calloc(n, 1); return *p ? 0 : 2; }
int cuMemFree_v2(uint64_t p) { free((void*)(uintptr_t)p); return 0; }
int cuMemcpyHtoD_v2(uint64_t dst, const void* src, size_t n) { memcpy((void*)(uintptr_t)dst, src, n); return 0; }
int cuMemcpyDtoH_v2(void* dst, uint64_t src, size_t n) { memcpy(dst, (const void*)(uintptr_t)src, n); return 0; }
int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned smem,
                   void*, void** params, void**) {
  if (by != 1 || bz != 1 || smem != 0) return 1;  // cnnc launches 1-D blocks, no dynamic shared memory
  ((Launcher)f)(gx, gy, gz, bx, params);
  return 0;
}
int cuCtxSynchronize() { return 0; }
int cuGetErrorName(int e, const char** s) {
  static char buf[32];
  snprintf(buf, sizeof buf, "FAKE_ERROR_%d", e);
  *s = buf;
  return 0;
}
}
