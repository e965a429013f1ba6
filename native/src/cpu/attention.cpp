// Fused causal self-attention on the CPU: forward, FlashAttention-2 backward, KV-cache append and attention.
// Semantics are those of jalign_attention_* / jalign_kvcache_append in include/jalign/jalign.h.
//
// Shape legend: B = batch, T = time, C = channels (NH*HS), NH = query heads, NKV = key/value heads (NH % NKV
//               == 0; query head h reads kv head h / (NH/NKV)), CK = NKV*HS, HS = head size, Tq = new query
//               rows, maxT = cache rows.
// Layout: element [b, t, h, d] of q/k/v (and dq/dk/dv) at base + b*T*ld + t*ld + h*HS + d (q: NH heads, k/v:
// NKV heads; ld = (NH + 2*NKV)*HS for a fused projection row); out/dout are (B, T, C) contiguous; lse is
// (B, NH, T); caches are (B, maxT, NKV, HS).
//
// The work is done by the tiled engines (attention_engine.h) built for AVX-512 and for AVX2+FMA and picked at
// run time. They need HS to be a multiple of their vector width; other head sizes go through zero-padded copies
// (padding adds nothing to any dot product; the scale stays 1/sqrt(HS)). KV-cache decode steps (a few new
// queries) use a row-by-row path: for one query against the cache the work is a matrix-vector product bound by
// memory, where a 64-query tile would waste its lanes.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu/attention_internal.h"
#include "cpu/cpu_kernels.h"

namespace jalign {
namespace cpu {

namespace attn {

static std::atomic<int> g_isa{0};

static bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("fma");
  return has;
}

static int active_isa() {
  const int want = g_isa.load(std::memory_order_relaxed);
  if (want == 1) return 1;
  return cpu_has_avx512() ? 2 : 1;
}

int set_isa(int isa) {
  g_isa.store(isa == 1 || isa == 2 ? isa : 0, std::memory_order_relaxed);
  return active_isa();
}

static int64_t vector_width() { return active_isa() == 2 ? 16 : 8; }

static void run_forward(const FwdProblem& p) {
  if (active_isa() == 2)
    avx512::forward(p);
  else
    avx2::forward(p);
}

static void run_backward(const BwdProblem& p) {
  if (active_isa() == 2)
    avx512::backward(p);
  else
    avx2::backward(p);
}

// Zero-padded copy: dst rows of (NH, HSP) with row stride ldd <- src rows of (NH, HS) with row stride ld.
static void pad_rows(float* dst, int64_t ldd, const float* src, int64_t rows, int64_t ld, int64_t NH, int64_t HS,
                     int64_t HSP) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < NH; ++h) {
      float* o = dst + r * ldd + h * HSP;
      const float* i = src + r * ld + h * HS;
      std::memcpy(o, i, sizeof(float) * HS);
      std::memset(o + HS, 0, sizeof(float) * (HSP - HS));
    }
}

// dst rows (NH, HS) with row stride ld (+)= src rows of (NH, HSP) with row stride lds.
static void unpad_rows(float* dst, const float* src, int64_t lds, int64_t rows, int64_t ld, int64_t NH, int64_t HS,
                       int64_t HSP, bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < NH; ++h) {
      float* o = dst + r * ld + h * HS;
      const float* i = src + r * lds + h * HSP;
      if (accumulate)
        for (int64_t d = 0; d < HS; ++d) o[d] += i[d];
      else
        std::memcpy(o, i, sizeof(float) * HS);
    }
}

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

}  // namespace attn

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, int64_t ld,
                       int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                       const int32_t* kv_end) {
  using namespace attn;
  const int64_t C = NH * HS;
  FwdProblem p{out, lse, q, k, v, ld, T * ld, ld, T * ld, C, B, T, NH, NKV, HS, 0, T,
               kv_start, kv_end, kv_start, kv_end, (float)(1.0 / std::sqrt((double)HS))};
  const int64_t W = vector_width();
  if (HS % W == 0) {
    run_forward(p);
    return;
  }
  const int64_t HSP = round_up(HS, W), CP = NH * HSP, CKP = NKV * HSP, rows = B * T;
  std::vector<float> qp(rows * CP), kp(rows * CKP), vp(rows * CKP), op(rows * CP);
  pad_rows(qp.data(), CP, q, rows, ld, NH, HS, HSP);
  pad_rows(kp.data(), CKP, k, rows, ld, NKV, HS, HSP);
  pad_rows(vp.data(), CKP, v, rows, ld, NKV, HS, HSP);
  p.out = op.data();
  p.q = qp.data();
  p.k = kp.data();
  p.v = vp.data();
  p.ldq = p.ldo = CP;
  p.ldkv = CKP;
  p.q_bs = T * CP;
  p.kv_bs = T * CKP;
  p.HS = HSP;
  run_forward(p);
  unpad_rows(out, op.data(), CP, rows, C, NH, HS, HSP, false);
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                        const float* q, const float* k, const float* v, int64_t ld, int64_t B, int64_t T,
                        int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start, const int32_t* kv_end) {
  using namespace attn;
  const int64_t C = NH * HS;
  BwdProblem p{dq, dk, dv, dout, out, lse, q, k, v, ld, C, B, T, NH, NKV, HS, kv_start, kv_end,
               (float)(1.0 / std::sqrt((double)HS))};
  const int64_t W = vector_width();
  if (HS % W == 0) {
    run_backward(p);
    return;
  }
  // Padded copies share one row stride CP (the engine takes one ld); k/v rows use their first NKV heads.
  const int64_t HSP = round_up(HS, W), CP = NH * HSP, rows = B * T;
  std::vector<float> qp(rows * CP), kp(rows * CP), vp(rows * CP), op(rows * CP), gp(rows * CP);
  std::vector<float> dqp(rows * CP, 0.f), dkp(rows * CP, 0.f), dvp(rows * CP, 0.f);
  pad_rows(qp.data(), CP, q, rows, ld, NH, HS, HSP);
  pad_rows(kp.data(), CP, k, rows, ld, NKV, HS, HSP);
  pad_rows(vp.data(), CP, v, rows, ld, NKV, HS, HSP);
  pad_rows(op.data(), CP, out, rows, C, NH, HS, HSP);
  pad_rows(gp.data(), CP, dout, rows, C, NH, HS, HSP);
  p.dq = dqp.data();
  p.dk = dkp.data();
  p.dv = dvp.data();
  p.dout = gp.data();
  p.out = op.data();
  p.q = qp.data();
  p.k = kp.data();
  p.v = vp.data();
  p.ld = p.ldo = CP;
  p.HS = HSP;
  run_backward(p);
  unpad_rows(dq, dqp.data(), CP, rows, ld, NH, HS, HSP, true);
  unpad_rows(dk, dkp.data(), CP, rows, ld, NKV, HS, HSP, true);
  unpad_rows(dv, dvp.data(), CP, rows, ld, NKV, HS, HSP, true);
}

void kvcache_append(float* k_cache, float* v_cache, const float* k, const float* v, int64_t ld, int64_t B,
                    int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos) {
  (void)NH;  // the caches hold the NKV key/value heads only
  const int64_t CK = NKV * HS;
#pragma omp parallel for schedule(static) if (B * Tq * CK > (1 << 16))
  for (int64_t bt = 0; bt < B * Tq; ++bt) {
    const int64_t b = bt / Tq, t = bt % Tq;
    // The NKV heads of one row are CK contiguous floats in both layouts.
    std::memcpy(k_cache + (b * maxT + pos + t) * CK, k + b * Tq * ld + t * ld, sizeof(float) * CK);
    std::memcpy(v_cache + (b * maxT + pos + t) * CK, v + b * Tq * ld + t * ld, sizeof(float) * CK);
  }
}

// One query row against the cache: scores, softmax and the weighted sum of values, row by row.
static void kvcache_rows(float* out, const float* q, const float* k_cache, const float* v_cache, int64_t ld,
                         int64_t B, int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos,
                         const int32_t* kv_start) {
  const int64_t C = NH * HS, CK = NKV * HS, G = NH / NKV;
  const float scale = (float)(1.0 / std::sqrt((double)HS));
#pragma omp parallel
  {
    std::vector<float> sc(pos + Tq > 0 ? pos + Tq : 1);
    std::vector<float> acc(HS);
#pragma omp for schedule(static)
    for (int64_t x = 0; x < B * NH * Tq; ++x) {
      const int64_t b = x / (NH * Tq), h = (x / Tq) % NH, t = x % Tq;
      float* o = out + (b * Tq + t) * C + h * HS;
      int64_t ks = kv_start ? kv_start[b] : 0;
      ks = std::max<int64_t>(ks, 0);
      const int64_t kend = pos + t + 1;  // exclusive
      if (kend <= ks) {
        std::memset(o, 0, sizeof(float) * HS);
        continue;
      }
      const float* qr = q + b * Tq * ld + t * ld + h * HS;
      const float* kb = k_cache + b * maxT * CK + (h / G) * HS;
      const float* vb = v_cache + b * maxT * CK + (h / G) * HS;
      float mx = -INFINITY;
      for (int64_t j = ks; j < kend; ++j) {
        const float* kr = kb + j * CK;
        float s = 0.f;
#pragma omp simd reduction(+ : s)
        for (int64_t d = 0; d < HS; ++d) s += qr[d] * kr[d];
        s *= scale;
        sc[j - ks] = s;
        mx = std::max(mx, s);
      }
      float sum = 0.f;
      for (int64_t j = ks; j < kend; ++j) {
        const float e = std::exp(sc[j - ks] - mx);
        sc[j - ks] = e;
        sum += e;
      }
      std::fill(acc.begin(), acc.end(), 0.f);
      float* a = acc.data();
      for (int64_t j = ks; j < kend; ++j) {
        const float pj = sc[j - ks];
        const float* vr = vb + j * CK;
#pragma omp simd
        for (int64_t d = 0; d < HS; ++d) a[d] += pj * vr[d];
      }
      const float inv = 1.f / sum;
      for (int64_t d = 0; d < HS; ++d) o[d] = a[d] * inv;
    }
  }
}

void attention_kvcache(float* out, const float* q, const float* k_cache, const float* v_cache, int64_t ld,
                       int64_t B, int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos,
                       const int32_t* kv_start) {
  using namespace attn;
  const int64_t C = NH * HS, CK = NKV * HS;
  const int64_t W = vector_width();
  // Decode steps (and head sizes the engines do not take directly): row by row.
  if (Tq <= 4 || HS % W != 0) {
    kvcache_rows(out, q, k_cache, v_cache, ld, B, Tq, NH, NKV, HS, maxT, pos, kv_start);
    return;
  }
  // Prefill / chunked prefill: the tiled engine, keys read in place from the cache.
  FwdProblem p{out, nullptr, q, k_cache, v_cache, ld, Tq * ld, CK, maxT * CK, C, B, Tq, NH, NKV, HS, pos, pos + Tq,
               nullptr, nullptr, kv_start, nullptr, (float)(1.0 / std::sqrt((double)HS))};
  run_forward(p);
}

}  // namespace cpu
}  // namespace jalign
