// Internal interface between the public attention entry points (attention.cpp) and the tiled flash-attention
// engines, which are compiled twice: once for the AVX2+FMA baseline (attention_avx2.cpp) and once for AVX-512
// (attention_avx512.cpp), chosen at run time.
//
// Shape legend: B = batch, T = time, C = channels, NH = query heads, NKV = key/value heads (NH % NKV == 0),
// HS = head size (C = NH*HS). Query head h reads key/value head h / (NH/NKV) (grouped-query attention;
// NKV == NH is multi-head attention, NKV == 1 multi-query).
// Element [b, t, h, d] of a "row" tensor x with leading dimension ld lives at x + b*bs + t*ld + h*HS + d,
// where bs (the batch stride) is T*ld for the attention inputs and maxT*NKV*HS for a KV cache.
#pragma once
#include <cstdint>

#include "cpu/work_split.h"

namespace jalign {
namespace cpu {
namespace attn {

// Forward problem: queries at local rows [qs_b, qe_b) of Tq (absolute position pos + t) attend to keys
// j in [ks_b, ke) with j <= pos + t. Rows of out outside [qs_b, qe_b) are written with 0 (and lse 0).
struct FwdProblem {
  float* out;            // (B, Tq, NH, HS) row stride ldo, batch stride Tq*ldo
  float* lse;            // (B, NH, Tq) natural-log logsumexp of the scaled scores; may be null
  const float* q;        // rows: q + b*q_bs + t*ldq + h*HS
  const float* k;        // rows: k + b*kv_bs + j*ldkv + kvh*HS, kvh = h / (NH/NKV)
  const float* v;        // same layout as k
  int64_t ldq, q_bs;
  int64_t ldkv, kv_bs;
  int64_t ldo;
  int64_t B, Tq, NH, NKV, HS;
  int64_t pos;           // absolute position of query row 0
  int64_t ke_max;        // exclusive upper bound on key rows (T for self-attention, pos+Tq for a cache)
  const int32_t* q_start;  // per-batch first valid query row (local), may be null (0)
  const int32_t* q_end;    // per-batch end of valid query rows (local), may be null (Tq)
  const int32_t* k_start;  // per-batch first valid key row, may be null (0)
  const int32_t* k_end;    // per-batch end of valid key rows, may be null (ke_max)
  float scale;           // softmax scale (1/sqrt of the true head size)
};

// Backward problem for causal self-attention (positions = rows, valid range [start_b, end_b) for both).
struct BwdProblem {
  float* dq;
  float* dk;
  float* dv;
  const float* dout;  // (B, T, NH, HS) row stride ldo
  const float* out;   // (B, T, NH, HS) row stride ldo
  const float* lse;   // (B, NH, T)
  const float* q;     // NH heads per row
  const float* k;     // NKV heads per row; dk/dv of a kv head sum over its NH/NKV query heads
  const float* v;
  int64_t ld;         // row stride of q, k, v, dq, dk, dv
  int64_t ldo;        // row stride of out, dout
  int64_t B, T, NH, NKV, HS;
  const int32_t* kv_start;
  const int32_t* kv_end;
  float scale;
};

// Engines. HS must be a multiple of the engine's vector width (avx512: 16, avx2: 8).
namespace avx512 {
bool supported_head_size(int64_t HS);
void forward(const FwdProblem& p);
void backward(const BwdProblem& p);
}  // namespace avx512
namespace avx2 {
bool supported_head_size(int64_t HS);
void forward(const FwdProblem& p);
void backward(const BwdProblem& p);
}  // namespace avx2

// Instruction set of the engines: 0 = best the CPU supports (default), 1 = AVX2+FMA, 2 = AVX-512.
// Returns the one now in use (a request for AVX-512 on a CPU without it falls back to AVX2). For tests and
// benchmarks; the library itself always runs the default.
int set_isa(int isa);

}  // namespace attn
}  // namespace cpu
}  // namespace jalign
