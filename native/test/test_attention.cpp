// Native test of the CPU attention kernels (jalign::cpu::attention_forward / attention_backward /
// kvcache_append / attention_kvcache) against a plain double-precision reference written here.
//
// Build and run (from the repository root):
//   g++ -O2 -std=c++17 -fopenmp -mavx2 -mfma -mf16c -Inative/include -Inative/src native/test/test_attention.cpp native/src/cpu/attention*.cpp -o /tmp/test_attention
//   /tmp/test_attention
// Prints the max errors of every case and exits non-zero if any case fails. Both engines are tested: AVX2+FMA
// always, AVX-512 when the CPU has it.
//
// Shape legend: B = batch, T = time, C = channels (NH*HS), NH = heads, HS = head size, Tq = new query rows.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cpu/attention_internal.h"
#include "cpu/cpu_kernels.h"

using namespace jalign;

namespace {

int g_failures = 0;
int g_cases = 0;

// ------------------------------------------------------------------------------------------ reference (double)
// Element [b, t, h, d] of q/k/v at x[b*T*ld + t*ld + h*HS + d] (NH query heads, NKV kv heads; query head h
// reads kv head h / (NH/NKV)); out (B, T, C); lse (B, NH, T).

struct Ref {
  std::vector<double> out, lse, dq, dk, dv;  // out (B,T,C), lse (B,NH,T); dq (B,T,C), dk/dv (B,T,NKV*HS)
};

void range_of(int64_t b, int64_t T, const int32_t* st, const int32_t* en, int64_t& s, int64_t& e) {
  s = st ? st[b] : 0;
  e = en ? en[b] : T;
}

// Scaled scores of query i against keys [s, i], the softmax P, and out = P V.
Ref reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
              const std::vector<float>* dout, int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV,
              int64_t HS, const int32_t* st, const int32_t* en) {
  const int64_t C = NH * HS, CK = NKV * HS, G = NH / NKV;
  const double scale = 1.0 / std::sqrt((double)HS);
  Ref r;
  r.out.assign(B * T * C, 0.0);
  r.lse.assign(B * NH * T, 0.0);
  r.dq.assign(B * T * C, 0.0);
  r.dk.assign(B * T * CK, 0.0);
  r.dv.assign(B * T * CK, 0.0);
  auto Q = [&](int64_t b, int64_t t, int64_t h, int64_t d) { return (double)q[b * T * ld + t * ld + h * HS + d]; };
  auto K = [&](int64_t b, int64_t t, int64_t h, int64_t d) {
    return (double)k[b * T * ld + t * ld + (h / G) * HS + d];
  };
  auto Vv = [&](int64_t b, int64_t t, int64_t h, int64_t d) {
    return (double)v[b * T * ld + t * ld + (h / G) * HS + d];
  };
  for (int64_t b = 0; b < B; ++b) {
    int64_t s, e;
    range_of(b, T, st, en, s, e);
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = s; i < e; ++i) {
        std::vector<double> sc(i - s + 1), P(i - s + 1);
        double mx = -INFINITY;
        for (int64_t j = s; j <= i; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < HS; ++d) dot += Q(b, i, h, d) * K(b, j, h, d);
          sc[j - s] = dot * scale;
          mx = std::max(mx, sc[j - s]);
        }
        double sum = 0;
        for (int64_t j = s; j <= i; ++j) sum += std::exp(sc[j - s] - mx);
        const double lse = mx + std::log(sum);
        r.lse[(b * NH + h) * T + i] = lse;
        for (int64_t j = s; j <= i; ++j) P[j - s] = std::exp(sc[j - s] - lse);
        for (int64_t d = 0; d < HS; ++d) {
          double o = 0;
          for (int64_t j = s; j <= i; ++j) o += P[j - s] * Vv(b, j, h, d);
          r.out[b * T * C + i * C + h * HS + d] = o;
        }
        if (!dout) continue;
        // Backward of out_i = sum_j P_ij V_j with P = softmax(scores).
        auto Gd = [&](int64_t d) { return (double)(*dout)[b * T * C + i * C + h * HS + d]; };
        std::vector<double> dP(i - s + 1);
        double Dsum = 0;
        for (int64_t j = s; j <= i; ++j) {
          double x = 0;
          for (int64_t d = 0; d < HS; ++d) x += Gd(d) * Vv(b, j, h, d);
          dP[j - s] = x;
          Dsum += P[j - s] * x;
        }
        for (int64_t j = s; j <= i; ++j) {
          const double dS = P[j - s] * (dP[j - s] - Dsum);
          for (int64_t d = 0; d < HS; ++d) {
            r.dq[b * T * C + i * C + h * HS + d] += scale * dS * K(b, j, h, d);
            r.dk[b * T * CK + j * CK + (h / G) * HS + d] += scale * dS * Q(b, i, h, d);
            r.dv[b * T * CK + j * CK + (h / G) * HS + d] += P[j - s] * Gd(d);
          }
        }
      }
  }
  return r;
}

// ------------------------------------------------------------------------------------------ helpers

std::vector<float> randu(size_t n, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> x(n);
  for (auto& e : x) e = u(rng);
  return x;
}

struct Err {
  double max_abs = 0, worst_ratio = 0;
  void add(double got, double want, double atol, double rtol) {
    const double d = std::fabs(got - want);
    if (!(d == d)) {  // NaN
      worst_ratio = INFINITY;
      max_abs = INFINITY;
      return;
    }
    max_abs = std::max(max_abs, d);
    worst_ratio = std::max(worst_ratio, d / (atol + rtol * std::fabs(want)));
  }
  bool ok() const { return worst_ratio <= 1.0; }
};

void report(const std::string& name, const std::vector<std::pair<const char*, Err>>& errs) {
  ++g_cases;
  bool ok = true;
  for (auto& e : errs) ok = ok && e.second.ok();
  if (!ok) ++g_failures;
  std::printf("%s %-58s", ok ? "ok  " : "FAIL", name.c_str());
  for (auto& e : errs) std::printf(" %s %.2e", e.first, e.second.max_abs);
  std::printf("\n");
}

const char* isa_name(int isa) { return isa == 2 ? "avx512" : "avx2"; }

// ------------------------------------------------------------------------------------------ forward + backward

// pad: 0 none, 1 left (kv_start > 0), 2 right (kv_end < T), 3 both (and different per batch).
void test_fwd_bwd(int isa, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, bool fused, int pad,
                  uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t C = NH * HS, CK = NKV * HS, ld = fused ? C + 2 * CK : C;
  // q, k, v are views into one buffer: fused (B, T, C + 2*CK) or three separate (B, T, ld) tensors (k, v use
  // their first CK columns).
  std::vector<float> qkv = randu(B * T * ld * (fused ? 1 : 3), rng);
  std::vector<float> q, k, v;
  const float *qp, *kp, *vp;
  if (fused) {
    qp = qkv.data();
    kp = qkv.data() + C;
    vp = qkv.data() + C + CK;
  } else {
    qp = qkv.data();
    kp = qkv.data() + B * T * C;
    vp = qkv.data() + 2 * B * T * C;
  }
  // The reference reads from contiguous copies with the same ld.
  auto view = [&](const float* base, int64_t width) {
    std::vector<float> x(B * T * ld, 0.f);
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t c = 0; c < width; ++c) x[r * ld + c] = base[r * ld + c];
    return x;
  };
  q = view(qp, C);
  k = view(kp, CK);
  v = view(vp, CK);

  std::vector<int32_t> st(B, 0), en(B, (int32_t)T);
  for (int64_t b = 0; b < B; ++b) {
    if (pad & 1) st[b] = (int32_t)std::min<int64_t>(T - 1, (b + 1) * (T / 5 + 1) % std::max<int64_t>(T, 1));
    if (pad & 2) en[b] = (int32_t)std::max<int64_t>(st[b] + 1, T - (b + 1) * (T / 4 + 1) % T);
    if (en[b] <= st[b]) en[b] = st[b] + 1;
  }
  const int32_t* stp = (pad & 1) ? st.data() : nullptr;
  const int32_t* enp = (pad & 2) ? en.data() : nullptr;

  std::vector<float> dout = randu(B * T * C, rng);
  Ref ref = reference(q, k, v, &dout, ld, B, T, NH, NKV, HS, stp, enp);

  std::vector<float> out(B * T * C, 7.f), lse(B * NH * T, 7.f);  // garbage: every element must be written
  cpu::attention_forward(out.data(), lse.data(), qp, kp, vp, ld, B, T, NH, NKV, HS, stp, enp);

  // Gradients accumulate: start from known values, in the same (fused or separate) layout as the inputs.
  std::vector<float> g0 = randu(qkv.size(), rng);
  std::vector<float> g = g0;
  float* dq = g.data() + (qp - qkv.data());
  float* dk = g.data() + (kp - qkv.data());
  float* dv = g.data() + (vp - qkv.data());
  cpu::attention_backward(dq, dk, dv, dout.data(), out.data(), lse.data(), qp, kp, vp, ld, B, T, NH, NKV, HS, stp,
                          enp);

  Err eo, el, eq, ek, ev;
  for (int64_t i = 0; i < B * T * C; ++i) eo.add(out[i], ref.out[i], 2e-6, 2e-5);
  for (int64_t i = 0; i < B * NH * T; ++i) el.add(lse[i], ref.lse[i], 2e-6, 2e-5);
  // Every element of the gradient buffers outside the k/v heads' columns keeps its value (rows past CK included).
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t c = 0; c < ld; ++c) {
      const int64_t x = r * ld + c;
      if (c < C) eq.add(dq[x], g0[dq - g.data() + x] + ref.dq[r * C + c], 1e-5, 1e-4);
      if (c < CK) {
        ek.add(dk[x], g0[dk - g.data() + x] + ref.dk[r * CK + c], 1e-5, 1e-4);
        ev.add(dv[x], g0[dv - g.data() + x] + ref.dv[r * CK + c], 1e-5, 1e-4);
      } else if (!fused) {
        ek.add(dk[x], g0[dk - g.data() + x], 0, 0);
        ev.add(dv[x], g0[dv - g.data() + x], 0, 0);
      }
    }
  char name[160];
  std::snprintf(name, sizeof name, "%s fwd+bwd B=%ld T=%ld NH=%ld NKV=%ld HS=%ld %s pad=%s thr=%d", isa_name(isa),
                (long)B, (long)T, (long)NH, (long)NKV, (long)HS, fused ? "fused-qkv" : "separate",
                pad == 0 ? "none" : pad == 1 ? "left" : pad == 2 ? "right" : "both", omp_get_max_threads());
  report(name, {{"out", eo}, {"lse", el}, {"dq", eq}, {"dk", ek}, {"dv", ev}});
}

// Gradients of the kernel backward vs central finite differences of the double reference forward,
// for loss = sum(out * G).
void test_finite_differences(int isa, int64_t HS, int64_t NH, int64_t NKV) {
  std::mt19937 rng(1234);
  const int64_t B = 1, T = 7, C = NH * HS, ld = C;
  std::vector<float> q = randu(B * T * C, rng), k = randu(B * T * C, rng), v = randu(B * T * C, rng);
  std::vector<float> G = randu(B * T * C, rng);
  std::vector<int32_t> st = {1};
  std::vector<float> out(B * T * C), lse(B * NH * T);
  cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), ld, B, T, NH, NKV, HS, st.data(),
                         nullptr);
  std::vector<float> dq(B * T * C, 0.f), dk(B * T * C, 0.f), dv(B * T * C, 0.f);
  cpu::attention_backward(dq.data(), dk.data(), dv.data(), G.data(), out.data(), lse.data(), q.data(), k.data(),
                          v.data(), ld, B, T, NH, NKV, HS, st.data(), nullptr);
  auto loss = [&](const std::vector<float>& qq, const std::vector<float>& kk, const std::vector<float>& vv) {
    Ref r = reference(qq, kk, vv, nullptr, ld, B, T, NH, NKV, HS, st.data(), nullptr);
    double L = 0;
    for (int64_t i = 0; i < B * T * C; ++i) L += r.out[i] * G[i];
    return L;
  };
  const double h = 1e-3;
  Err e[3];
  std::vector<float>* xs[3] = {&q, &k, &v};
  std::vector<float>* gs[3] = {&dq, &dk, &dv};
  for (int w = 0; w < 3; ++w)
    for (int64_t i = 0; i < B * T * C; ++i) {
      std::vector<float>& x = *xs[w];
      const float keep = x[i];
      x[i] = keep + (float)h;
      const double hp = (double)x[i] - keep;
      const double lp = loss(q, k, v);
      x[i] = keep - (float)h;
      const double hm = keep - (double)x[i];
      const double lm = loss(q, k, v);
      x[i] = keep;
      e[w].add((*gs[w])[i], (lp - lm) / (hp + hm), 2e-4, 2e-3);
    }
  char name[160];
  std::snprintf(name, sizeof name, "%s finite differences T=7 NH=%ld NKV=%ld HS=%ld pad=left", isa_name(isa),
                (long)NH, (long)NKV, (long)HS);
  report(name, {{"dq", e[0]}, {"dk", e[1]}, {"dv", e[2]}});
}

// ------------------------------------------------------------------------------------------ KV cache

// Prefill + chunks + decode steps through the cache == rows of full causal attention (kernel and reference).
void test_kvcache(int isa, int64_t HS, int64_t prefill, bool fused, uint32_t seed, int64_t NH = 3, int64_t NKV = 3) {
  std::mt19937 rng(seed);
  const int64_t B = 2, T = 83, maxT = 96, C = NH * HS, CK = NKV * HS, ld = fused ? C + 2 * CK : C;
  std::vector<float> qkv = randu(B * T * ld * (fused ? 1 : 3), rng);
  const float* qp = qkv.data();
  const float* kp = fused ? qkv.data() + C : qkv.data() + B * T * ld;
  const float* vp = fused ? qkv.data() + C + CK : qkv.data() + 2 * B * T * ld;
  std::vector<int32_t> st = {0, 5};  // batch 1 is left-padded by 5 rows

  std::vector<float> full(B * T * C), lse(B * NH * T);
  cpu::attention_forward(full.data(), lse.data(), qp, kp, vp, ld, B, T, NH, NKV, HS, st.data(), nullptr);
  auto view = [&](const float* base, int64_t width) {
    std::vector<float> x(B * T * ld, 0.f);
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t c = 0; c < width; ++c) x[r * ld + c] = base[r * ld + c];
    return x;
  };
  Ref ref = reference(view(qp, C), view(kp, CK), view(vp, CK), nullptr, ld, B, T, NH, NKV, HS, st.data(), nullptr);

  std::vector<float> kc(B * maxT * CK, 0.f), vc(B * maxT * CK, 0.f);
  Err ek, er, ec;
  // Steps: the prefill, then single-token decode steps, with one 9-row chunk in between.
  std::vector<int64_t> steps = {prefill};
  int64_t filled = prefill;
  while (filled < T) {
    const int64_t n = (filled >= prefill + 3 && filled < prefill + 12) ? std::min<int64_t>(9, T - filled) : 1;
    steps.push_back(n);
    filled += n;
  }
  int64_t pos = 0;
  for (int64_t Tq : steps) {
    // Inputs of this step: rows [pos, pos+Tq) of every batch, packed as (B, Tq, ld).
    std::vector<float> qs(B * Tq * ld), ks(B * Tq * ld), vs(B * Tq * ld);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < Tq; ++t)
        for (int64_t c = 0; c < C; ++c) {
          qs[(b * Tq + t) * ld + c] = qp[(b * T + pos + t) * ld + c];
          if (c >= CK) continue;
          ks[(b * Tq + t) * ld + c] = kp[(b * T + pos + t) * ld + c];
          vs[(b * Tq + t) * ld + c] = vp[(b * T + pos + t) * ld + c];
        }
    cpu::kvcache_append(kc.data(), vc.data(), ks.data(), vs.data(), ld, B, Tq, NH, NKV, HS, maxT, pos);
    std::vector<float> o(B * Tq * C, 7.f);
    cpu::attention_kvcache(o.data(), qs.data(), kc.data(), vc.data(), ld, B, Tq, NH, NKV, HS, maxT, pos, st.data());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < Tq; ++t)
        for (int64_t c = 0; c < C; ++c) {
          const double got = o[(b * Tq + t) * C + c];
          ek.add(got, full[(b * T + pos + t) * C + c], 2e-6, 2e-5);
          er.add(got, ref.out[(b * T + pos + t) * C + c], 2e-6, 2e-5);
        }
    pos += Tq;
  }
  // The cache holds exactly the appended rows; rows past T are untouched (still 0).
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < maxT; ++t)
      for (int64_t c = 0; c < CK; ++c) {
        const double wk = t < T ? kp[(b * T + t) * ld + c] : 0.0, wv = t < T ? vp[(b * T + t) * ld + c] : 0.0;
        ec.add(kc[(b * maxT + t) * CK + c], wk, 0, 0);
        ec.add(vc[(b * maxT + t) * CK + c], wv, 0, 0);
      }
  char name[160];
  std::snprintf(name, sizeof name, "%s kv-cache NH=%ld NKV=%ld HS=%ld prefill=%ld %s (+decode, chunk of 9)",
                isa_name(isa), (long)NH, (long)NKV, (long)HS, (long)prefill, fused ? "fused-qkv" : "separate");
  report(name, {{"vs-full", ek}, {"vs-ref", er}, {"cache", ec}});
}

}  // namespace

int main() {
  omp_set_num_threads(2);
  std::vector<int> isas = {1};
  if (cpu::attn::set_isa(2) == 2) isas.push_back(2);
  uint32_t seed = 1;
  for (int isa : isas) {
    cpu::attn::set_isa(isa);
    for (int64_t T : {1, 7, 64, 257})
      for (int64_t HS : {32, 64, 128})
        for (int pad = 0; pad < 4; ++pad) {
          // NH alternates between 1 (few heads: threads share a head) and 4 (B*NH >= 4*threads: one head each).
          const int64_t NH = (pad % 2 == 0) ? 4 : 1;
          test_fwd_bwd(isa, 2, T, NH, NH, HS, pad < 2, pad, seed++);
          test_fwd_bwd(isa, 2, T, NH, NH, HS, pad >= 2, pad, seed++);
        }
    // Grouped-query (NH=4, NKV=2; NH=6, NKV=3) and multi-query (NKV=1) attention; B*NKV below and above
    // 4*threads picks either backward split.
    for (int64_t T : {1, 64, 130})
      for (int64_t HS : {32, 64, 24})
        for (int pad = 0; pad < 4; ++pad) {
          test_fwd_bwd(isa, 2, T, 4, 2, HS, pad < 2, pad, seed++);
          test_fwd_bwd(isa, 2, T, 6, 1, HS, pad >= 2, pad, seed++);
          test_fwd_bwd(isa, 5, T, 6, 3, HS, pad % 2 == 0, pad, seed++);
        }
    // Head sizes that are not specialised (a multiple of the vector width) or need padding.
    for (int64_t HS : {1, 8, 24, 48, 80, 256})
      for (int64_t T : {7, 130}) {
        test_fwd_bwd(isa, 2, T, 4, 4, HS, true, 3, seed++);
        test_fwd_bwd(isa, 2, T, 1, 1, HS, false, 1, seed++);
      }
    // Other thread counts (the backward picks "one head per thread" or "threads share a head" by B*NH/threads).
    for (int threads : {1, 3}) {
      omp_set_num_threads(threads);
      for (int64_t NH : {1, 3, 12}) test_fwd_bwd(isa, 2, 257, NH, NH, 64, NH == 3, 3, seed++);
      test_fwd_bwd(isa, 2, 257, 12, 4, 64, true, 3, seed++);
      test_fwd_bwd(isa, 2, 257, 12, 1, 64, false, 1, seed++);
    }
    omp_set_num_threads(2);
    test_finite_differences(isa, 32, 2, 2);
    test_finite_differences(isa, 24, 2, 2);
    test_finite_differences(isa, 32, 4, 2);
    test_finite_differences(isa, 24, 3, 1);
    for (int64_t HS : {32, 64, 128, 24}) {
      test_kvcache(isa, HS, 70, true, seed++);   // tiled prefill
      test_kvcache(isa, HS, 3, false, seed++);   // row-by-row prefill
      test_kvcache(isa, HS, 70, true, seed++, 4, 2);
      test_kvcache(isa, HS, 3, false, seed++, 6, 1);
    }
  }
  cpu::attn::set_isa(0);
  std::printf("%d of %d cases passed\n", g_cases - g_failures, g_cases);
  return g_failures == 0 ? 0 : 1;
}
