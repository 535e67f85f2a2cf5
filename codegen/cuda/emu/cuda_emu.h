// cuda_emu.h: runs cnnc's generated CUDA on the CPU, for testing where no GPU is present.
// Compile the standalone program with:  g++ -std=c++17 -DCNNC_EMU -include cuda_emu.h -I<cuda>/include -x c++ main.cu
// Each CUDA thread of a block runs as a ucontext coroutine; __syncthreads() switches to the next
// thread, so a block's threads meet at every barrier as on a GPU. __shared__ becomes a static
// local: shared by the threads of the one block that runs at a time. Slow, exact, single-threaded.
#pragma once
#include <cuda_fp16.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <functional>
#include <type_traits>
#include <set>
#include <vector>

// cuda_fp16.h brought CUDA's host headers (dim3, cudaError_t, the runtime API declarations);
// what follows replaces the device-side qualifiers and defines the runtime calls on the CPU.
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __launch_bounds__
#undef __shared__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

inline float rsqrtf(float v) { return 1.f / sqrtf(v); }

namespace cnnc_emu {
inline dim3 threadIdx, blockIdx, blockDim, gridDim;
inline ucontext_t scheduler;
inline std::vector<ucontext_t> ctx;
inline std::vector<char> stacks;
inline std::vector<char> done;
inline const std::function<void()>* body = nullptr;
inline unsigned cur = 0;
inline bool synced = false;
inline std::set<const void*> no_sync;  // kernels seen to run without __syncthreads
const size_t STACK = 64 * 1024;

inline void entry() {
  (*body)();
  done[cur] = 1;
}

inline void syncthreads() {
  synced = true;
  swapcontext(&ctx[cur], &scheduler);
}

inline void set_thread(unsigned t) {
  threadIdx = dim3(t % blockDim.x, (t / blockDim.x) % blockDim.y, t / (blockDim.x * blockDim.y));
}

inline void launch(const void* kernel, dim3 grid, dim3 block, const std::function<void()>& fn) {
  body = &fn;
  gridDim = grid;
  blockDim = block;
  const unsigned nt = block.x * block.y * block.z;
  if (ctx.size() < nt) { ctx.resize(nt); stacks.resize(nt * STACK); done.resize(nt); }
  const bool direct = no_sync.count(kernel) > 0;
  synced = false;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx = dim3(bx, by, bz);
        if (direct) {  // no barriers: plain calls
          for (unsigned t = 0; t < nt; ++t) { set_thread(t); fn(); }
          continue;
        }
        for (unsigned t = 0; t < nt; ++t) {
          getcontext(&ctx[t]);
          ctx[t].uc_stack.ss_sp = &stacks[t * STACK];
          ctx[t].uc_stack.ss_size = STACK;
          ctx[t].uc_link = &scheduler;
          makecontext(&ctx[t], entry, 0);
          done[t] = 0;
        }
        for (bool live = true; live;) {  // one round = every thread up to its next barrier
          live = false;
          for (unsigned t = 0; t < nt; ++t) {
            if (done[t]) continue;
            cur = t;
            set_thread(t);
            swapcontext(&scheduler, &ctx[t]);
            live = live || !done[t];
          }
        }
      }
  if (!synced) no_sync.insert(kernel);
}
}  // namespace cnnc_emu

using cnnc_emu::blockDim;
using cnnc_emu::blockIdx;
using cnnc_emu::gridDim;
using cnnc_emu::threadIdx;
#define __syncthreads() cnnc_emu::syncthreads()
#define CNNC_LAUNCH(k, gx, gy, gz, b, ...) \
  cnnc_emu::launch((const void*)&k, dim3(gx, gy, gz), dim3(b), [&] { k(__VA_ARGS__); })

// the runtime API subset the standalone host program uses (one translation unit: plain definitions)
cudaError_t cudaMalloc(void** p, size_t n) { *p = calloc(n, 1); return *p ? cudaSuccess : cudaErrorMemoryAllocation; }
cudaError_t cudaFree(void* p) { free(p); return cudaSuccess; }
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, enum cudaMemcpyKind) { memcpy(d, s, n); return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
const char* cudaGetErrorString(cudaError_t) { return "emulated"; }

// __dp4a (sm_61+): four byte products summed into c. Signed: each byte of a and b sign-extended;
// unsigned: zero-extended. The sum wraps modulo 2^32, as the instruction's 32-bit adder does.
inline int __dp4a(int a, int b, int c) {
  unsigned s = (unsigned)c;
  for (int i = 0; i < 4; ++i) s += (unsigned)((int)(signed char)(a >> (8 * i)) * (int)(signed char)(b >> (8 * i)));
  return (int)s;
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
  for (int i = 0; i < 4; ++i) c += ((a >> (8 * i)) & 255u) * ((b >> (8 * i)) & 255u);
  return c;
}

// WMMA (tensor cores) on the CPU: each thread holds its warp's whole 16×16 tile and computes it
// redundantly; loads, products (f32 accumulation) and stores mean what they mean on the GPU.
namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment { float x[M * N]; };
template <typename F> inline void fill_fragment(F& f, float v) { for (float& e : f.x) e = v; }
template <typename Use, typename L>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, __half, L>& f, const __half* p, unsigned ldm) {
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) f.x[r * 16 + c] = std::is_same<L, row_major>::value ? __half2float(p[r * ldm + c]) : __half2float(p[c * ldm + r]);
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm, layout_t l) {
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) (l == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[r * 16 + c];
}
template <typename LA, typename LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, __half, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, __half, LB>& b, const fragment<accumulator, 16, 16, 16, float>& c) {
  float t[256];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      float s = c.x[i * 16 + j];
      for (int k = 0; k < 16; ++k) s += a.x[i * 16 + k] * b.x[k * 16 + j];
      t[i * 16 + j] = s;
    }
  for (int i = 0; i < 256; ++i) d.x[i] = t[i];
}
}  // namespace wmma
}  // namespace nvcuda
