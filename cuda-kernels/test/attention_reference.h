// Plain host references for the jalign attention tests: double precision (the truth) and a naive bf16
// implementation (scores, probabilities and products rounded to bf16 the way an unfused bf16 framework
// computes them) that sets the error budget of the bf16 kernels (FlashAttention's rule).
//
// Shape legend: B = batch, T = time, C = channels (NH*HS), NH = query heads, NKV = key/value heads, G = NH/NKV
//   (query head h reads kv head h / G, as if each kv head were repeated G times), HS = head size.
//   q, k, v, dq, dk, dv: element [b, t, h, d] at b*T*ld + t*ld + h*HS + d (q: NH heads, k/v: NKV heads)
//   out, dout: (B, T, C)   lse: (B, NH, T)   kv_start, kv_end: (B) or NULL
//   k_cache, v_cache: (B, maxT, NKV, HS)
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace jalign_test {

// ---- bf16 <-> float (round to nearest even, NaN kept quiet)
inline uint16_t f2bf(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
inline float bf2f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline float rbf(double x) { return bf2f(f2bf((float)x)); }

inline void row_range(const int32_t* kv_start, const int32_t* kv_end, int64_t b, int64_t T, int64_t& s,
                      int64_t& e) {
    s = kv_start ? kv_start[b] : 0;
    e = kv_end ? kv_end[b] : T;
    s = s < 0 ? 0 : (s > T ? T : s);
    e = e > T ? T : e;
    if (e < s) e = s;
}

// Double-precision causal attention forward. Valid row t of batch b (s <= t < e) attends keys s..t.
template <typename In>
void ref_forward(std::vector<double>& out, std::vector<double>& lse, const In* q, const In* k, const In* v,
                 int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                 const int32_t* kv_end, float (*get)(In)) {
    const int64_t C = NH * HS, G = NH / NKV;
    out.assign(B * T * C, 0.0);
    lse.assign(B * NH * T, 0.0);
    const double scale = 1.0 / std::sqrt((double)HS);
    std::vector<double> sc(T);
    for (int64_t b = 0; b < B; b++) {
        int64_t s, e;
        row_range(kv_start, kv_end, b, T, s, e);
        for (int64_t h = 0; h < NH; h++)
            for (int64_t t = s; t < e; t++) {
                const In* qr = q + b * T * ld + t * ld + h * HS;
                double mx = -INFINITY;
                for (int64_t j = s; j <= t; j++) {
                    const In* kr = k + b * T * ld + j * ld + (h / G) * HS;
                    double d = 0;
                    for (int64_t x = 0; x < HS; x++) d += (double)get(qr[x]) * (double)get(kr[x]);
                    sc[j] = d * scale;
                    mx = std::max(mx, sc[j]);
                }
                double l = 0;
                for (int64_t j = s; j <= t; j++) l += std::exp(sc[j] - mx);
                double* o = &out[(b * T + t) * C + h * HS];
                for (int64_t j = s; j <= t; j++) {
                    const double p = std::exp(sc[j] - mx) / l;
                    const In* vr = v + b * T * ld + j * ld + (h / G) * HS;
                    for (int64_t x = 0; x < HS; x++) o[x] += p * (double)get(vr[x]);
                }
                lse[(b * NH + h) * T + t] = mx + std::log(l);
            }
    }
}

// Double-precision backward: dq, dk, dv (layout with ld) are written (not accumulated).
template <typename In>
void ref_backward(std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv, const In* dout,
                  const In* q, const In* k, const In* v, int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                  const int32_t* kv_start, const int32_t* kv_end, float (*get)(In)) {
    const int64_t C = NH * HS, G = NH / NKV;
    const int64_t n = B * T * ld;
    dq.assign(n, 0.0);
    dk.assign(n, 0.0);
    dv.assign(n, 0.0);
    const double scale = 1.0 / std::sqrt((double)HS);
    std::vector<double> P(T), dP(T);
    for (int64_t b = 0; b < B; b++) {
        int64_t s, e;
        row_range(kv_start, kv_end, b, T, s, e);
        for (int64_t h = 0; h < NH; h++)
            for (int64_t t = s; t < e; t++) {
                const int64_t qo = b * T * ld + t * ld + h * HS;
                const In* dor = dout + (b * T + t) * C + h * HS;
                double mx = -INFINITY;
                for (int64_t j = s; j <= t; j++) {
                    const int64_t ko = b * T * ld + j * ld + (h / G) * HS;
                    double d = 0, dp = 0;
                    for (int64_t x = 0; x < HS; x++) {
                        d += (double)get(q[qo + x]) * (double)get(k[ko + x]);
                        dp += (double)get(dor[x]) * (double)get(v[ko + x]);
                    }
                    P[j] = d * scale;
                    dP[j] = dp;
                    mx = std::max(mx, P[j]);
                }
                double l = 0;
                for (int64_t j = s; j <= t; j++) l += std::exp(P[j] - mx);
                double D = 0;  // rowsum(dout * out) = sum_j P_j dP_j
                for (int64_t j = s; j <= t; j++) {
                    P[j] = std::exp(P[j] - mx) / l;
                    D += P[j] * dP[j];
                }
                for (int64_t j = s; j <= t; j++) {
                    const int64_t ko = b * T * ld + j * ld + (h / G) * HS;
                    const double ds = P[j] * (dP[j] - D);
                    for (int64_t x = 0; x < HS; x++) {
                        dq[qo + x] += ds * scale * (double)get(k[ko + x]);
                        dk[ko + x] += ds * scale * (double)get(q[qo + x]);
                        dv[ko + x] += P[j] * (double)get(dor[x]);
                    }
                }
            }
    }
}

// Naive bf16 forward: S = bf16(Q K^T * scale) (fp32 products), P = bf16(softmax(S)), out = bf16(P V).
inline void naive_bf16_forward(std::vector<double>& out, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                               int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                               const int32_t* kv_end) {
    const int64_t C = NH * HS, G = NH / NKV;
    out.assign(B * T * C, 0.0);
    const float scale = 1.0f / std::sqrt((float)HS);
    std::vector<float> sc(T), acc(HS);
    for (int64_t b = 0; b < B; b++) {
        int64_t s, e;
        row_range(kv_start, kv_end, b, T, s, e);
        for (int64_t h = 0; h < NH; h++)
            for (int64_t t = s; t < e; t++) {
                const uint16_t* qr = q + b * T * ld + t * ld + h * HS;
                float mx = -INFINITY;
                for (int64_t j = s; j <= t; j++) {
                    const uint16_t* kr = k + b * T * ld + j * ld + (h / G) * HS;
                    float d = 0;
                    for (int64_t x = 0; x < HS; x++) d += bf2f(qr[x]) * bf2f(kr[x]);
                    sc[j] = rbf(rbf(d) * scale);
                    mx = std::max(mx, sc[j]);
                }
                float l = 0;
                for (int64_t j = s; j <= t; j++) l += std::exp(sc[j] - mx);
                std::fill(acc.begin(), acc.end(), 0.f);
                for (int64_t j = s; j <= t; j++) {
                    const float p = rbf(std::exp(sc[j] - mx) / l);
                    const uint16_t* vr = v + b * T * ld + j * ld + (h / G) * HS;
                    for (int64_t x = 0; x < HS; x++) acc[x] += p * bf2f(vr[x]);
                }
                for (int64_t x = 0; x < HS; x++) out[(b * T + t) * C + h * HS + x] = rbf(acc[x]);
            }
    }
}

// Naive bf16 backward from bf16 tensors: P and dP, dS and every product rounded to bf16.
inline void naive_bf16_backward(std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv,
                                const uint16_t* dout, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                                int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                                const int32_t* kv_start, const int32_t* kv_end) {
    const int64_t C = NH * HS, G = NH / NKV;
    const int64_t n = B * T * ld;
    std::vector<float> fdq(n, 0.f), fdk(n, 0.f), fdv(n, 0.f);
    const float scale = 1.0f / std::sqrt((float)HS);
    std::vector<float> P(T), dP(T), o(HS);
    for (int64_t b = 0; b < B; b++) {
        int64_t s, e;
        row_range(kv_start, kv_end, b, T, s, e);
        for (int64_t h = 0; h < NH; h++)
            for (int64_t t = s; t < e; t++) {
                const int64_t qo = b * T * ld + t * ld + h * HS;
                const uint16_t* dor = dout + (b * T + t) * C + h * HS;
                float mx = -INFINITY;
                for (int64_t j = s; j <= t; j++) {
                    const int64_t ko = b * T * ld + j * ld + (h / G) * HS;
                    float d = 0, dp = 0;
                    for (int64_t x = 0; x < HS; x++) {
                        d += bf2f(q[qo + x]) * bf2f(k[ko + x]);
                        dp += bf2f(dor[x]) * bf2f(v[ko + x]);
                    }
                    P[j] = rbf(rbf(d) * scale);
                    dP[j] = rbf(dp);
                    mx = std::max(mx, P[j]);
                }
                float l = 0;
                for (int64_t j = s; j <= t; j++) l += std::exp(P[j] - mx);
                std::fill(o.begin(), o.end(), 0.f);
                for (int64_t j = s; j <= t; j++) {
                    P[j] = rbf(std::exp(P[j] - mx) / l);
                    const int64_t ko = b * T * ld + j * ld + (h / G) * HS;
                    for (int64_t x = 0; x < HS; x++) o[x] += P[j] * bf2f(v[ko + x]);
                }
                float D = 0;  // rowsum(dout * bf16(out))
                for (int64_t x = 0; x < HS; x++) D += bf2f(dor[x]) * rbf(o[x]);
                for (int64_t j = s; j <= t; j++) {
                    const int64_t ko = b * T * ld + j * ld + (h / G) * HS;
                    const float ds = rbf(P[j] * (dP[j] - D));
                    for (int64_t x = 0; x < HS; x++) {
                        fdq[qo + x] += ds * scale * bf2f(k[ko + x]);
                        fdk[ko + x] += ds * scale * bf2f(q[qo + x]);
                        fdv[ko + x] += P[j] * bf2f(dor[x]);
                    }
                }
            }
    }
    dq.resize(n);
    dk.resize(n);
    dv.resize(n);
    for (int64_t i = 0; i < n; i++) {
        dq[i] = rbf(fdq[i]);
        dk[i] = rbf(fdk[i]);
        dv[i] = rbf(fdv[i]);
    }
}

// Decode reference: query i (position pos+i) attends cache keys kv_start[b]..pos+i.
inline void ref_kvcache(std::vector<double>& out, const float* q, const float* kc, const float* vc, int64_t ld,
                        int64_t B, int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos,
                        const int32_t* kv_start) {
    const int64_t C = NH * HS, G = NH / NKV;
    out.assign(B * Tq * C, 0.0);
    const double scale = 1.0 / std::sqrt((double)HS);
    std::vector<double> sc(maxT);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < NH; h++)
            for (int64_t i = 0; i < Tq; i++) {
                const int64_t s = kv_start ? std::max<int64_t>(0, kv_start[b]) : 0;
                const int64_t last = std::min(pos + i, maxT - 1);
                if (last < s) continue;
                const float* qr = q + b * Tq * ld + i * ld + h * HS;
                double mx = -INFINITY;
                for (int64_t j = s; j <= last; j++) {
                    const float* kr = kc + ((b * maxT + j) * NKV + h / G) * HS;
                    double d = 0;
                    for (int64_t x = 0; x < HS; x++) d += (double)qr[x] * kr[x];
                    sc[j] = d * scale;
                    mx = std::max(mx, sc[j]);
                }
                double l = 0;
                for (int64_t j = s; j <= last; j++) l += std::exp(sc[j] - mx);
                double* o = &out[(b * Tq + i) * C + h * HS];
                for (int64_t j = s; j <= last; j++) {
                    const double p = std::exp(sc[j] - mx) / l;
                    const float* vr = vc + ((b * maxT + j) * NKV + h / G) * HS;
                    for (int64_t x = 0; x < HS; x++) o[x] += p * vr[x];
                }
            }
}

// Max |a - b| over n elements; +inf if either holds a NaN (so a NaN always fails a "<=" check).
template <typename A, typename Bv>
double max_abs_diff(const A& a, const Bv& b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = std::fabs((double)a[i] - (double)b[i]);
        if (!(d == d)) return INFINITY;
        m = std::max(m, d);
    }
    return m;
}

template <typename A>
double max_abs(const A& a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = std::max(m, std::fabs((double)a[i]));
    return m;
}

}  // namespace jalign_test
