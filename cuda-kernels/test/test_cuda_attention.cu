// Tests of the jalign CUDA attention launchers (cuda-kernels/attention.cu) against plain host references.
//
// Shape legend: B = batch, T = time, C = channels (NH*HS), NH = query heads, NKV = key/value heads,
// CK = NKV*HS, HS = head size.
//
// fp32 kernels are compared with a double-precision reference (atol + rtol*max|ref|). bf16 kernels follow
// FlashAttention's rule: their error against the double reference (computed from the same bf16 inputs) must
// be at most 2x the error of a naive bf16 implementation, plus a small floor. Backward launchers must
// accumulate (+=) into dq/dk/dv. When built with JALIGN_HAVE_CPU_ATTENTION (cuda-kernels/CMakeLists.txt defines it
// and links native/src/cpu when attention.cpp is there), the fp32 results are also compared with
// jalign::cpu::attention_*.
//
// Cases: T = 1, 7, 64, 257; HS = 32, 64, 128; separate q/k/v (ld = C) and fused QKV (ld = C + 2*CK); with and
// without key padding (kv_start/kv_end); T = 1000 at HS = 64, 128 (not with --quick); grouped-query (NH = 4,
// NKV = 2) and multi-query (NH = 6, NKV = 1) attention; KV-cache decode, also with NKV < NH.
// Prints one line per check and PASS/FAIL; exits 1 on any failure, 2 when no GPU is present.
#include <cuda_runtime.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "attention_reference.h"
#include "jalign_cuda.h"
#ifdef JALIGN_HAVE_CPU_ATTENTION
#include "cpu/cpu_kernels.h"
#endif

using namespace jalign_test;

namespace {

int g_failures = 0, g_checks = 0;

#define CHECK_CUDA(call)                                                                              \
    do {                                                                                              \
        int err_ = (int)(call);                                                                       \
        if (err_ != 0) {                                                                              \
            std::fprintf(stderr, "%s:%d: CUDA error %d (%s) in %s\n", __FILE__, __LINE__, err_,        \
                         cudaGetErrorString((cudaError_t)err_), #call);                                \
            std::exit(1);                                                                             \
        }                                                                                             \
    } while (0)

template <typename T>
struct DevBuf {
    T* p = nullptr;
    size_t n = 0;
    explicit DevBuf(size_t count) : n(count) { CHECK_CUDA(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T))); }
    ~DevBuf() { cudaFree(p); }
    DevBuf(const DevBuf&) = delete;
    DevBuf& operator=(const DevBuf&) = delete;
    void up(const std::vector<T>& h) { CHECK_CUDA(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
    std::vector<T> down() const {
        std::vector<T> h(n);
        CHECK_CUDA(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
        return h;
    }
};

void report(const std::string& name, double err, double tol, const std::string& extra = "") {
    const bool ok = err <= tol;  // false for NaN
    g_checks++;
    if (!ok) g_failures++;
    std::printf("%-4s %-58s max_err=%.3e tol=%.3e%s%s\n", ok ? "PASS" : "FAIL", name.c_str(), err, tol,
                extra.empty() ? "" : " ", extra.c_str());
}

float getf(float x) { return x; }
float getbf(uint16_t x) { return bf2f(x); }

// Compact (B, T, C) view of the tensor at offset `off` of a layout with leading dimension ld.
template <typename V>
std::vector<double> compact(const V& buf, int64_t off, int64_t ld, int64_t B, int64_t T, int64_t C,
                            float (*get)(typename V::value_type) = nullptr) {
    std::vector<double> r(B * T * C);
    for (int64_t bt = 0; bt < B * T; bt++)
        for (int64_t c = 0; c < C; c++) {
            const auto x = buf[off + bt * ld + c];
            r[bt * C + c] = get ? (double)get(x) : (double)x;
        }
    return r;
}

struct Case {
    int64_t B, T, NH, HS;
    bool fused, padded;
    int64_t NKV = 0;  // 0: NH (multi-head)
    int64_t kv() const { return NKV ? NKV : NH; }
    std::string name() const {
        char s[128];
        std::snprintf(s, sizeof s, "B=%" PRId64 " T=%" PRId64 " NH=%" PRId64 "%s HS=%" PRId64 " %s%s", B, T, NH,
                      kv() == NH ? "" : (" NKV=" + std::to_string(kv())).c_str(), HS, fused ? "qkv" : "sep",
                      padded ? " pad" : "");
        return s;
    }
};

void padding_for(const Case& cs, std::vector<int32_t>& ks, std::vector<int32_t>& ke) {
    ks.assign(cs.B, 0);
    ke.assign(cs.B, (int32_t)cs.T);
    if (!cs.padded) return;
    for (int64_t b = 0; b < cs.B; b++) {
        // left padding on odd rows, right padding on even rows, both on the last row
        if (b % 2 == 1) ks[b] = (int32_t)((cs.T * (b + 1)) / 5);
        if (b % 2 == 0) ke[b] = (int32_t)(cs.T - (cs.T * (b + 1)) / 6);
        if (b == cs.B - 1 && cs.T > 3) {
            ks[b] = (int32_t)(cs.T / 4);
            ke[b] = (int32_t)(cs.T - cs.T / 7);
        }
        if (ke[b] <= ks[b]) ke[b] = ks[b] + 1 <= cs.T ? ks[b] + 1 : ks[b];
    }
}

void run_fp32(const Case& cs, std::mt19937& rng) {
    const int64_t B = cs.B, T = cs.T, NH = cs.NH, NKV = cs.kv(), HS = cs.HS, C = NH * HS, CK = NKV * HS;
    const int64_t ld = cs.fused ? C + 2 * CK : C;
    const int64_t n = B * T * ld;
    std::normal_distribution<float> nd(0.f, 1.f);
    // q, k, v: one buffer of (B, T, C + 2*CK) when fused, else three of (B, T, C) (k, v use CK columns)
    std::vector<float> hq, hk, hv, hqkv;
    int64_t oq = 0, ok = 0, ov = 0;
    if (cs.fused) {
        hqkv.resize(n);
        for (auto& x : hqkv) x = nd(rng);
        ok = C;
        ov = C + CK;
    } else {
        hq.resize(n);
        hk.resize(n);
        hv.resize(n);
        for (auto& x : hq) x = nd(rng);
        for (auto& x : hk) x = nd(rng);
        for (auto& x : hv) x = nd(rng);
    }
    const float* Q = cs.fused ? hqkv.data() + oq : hq.data();
    const float* K = cs.fused ? hqkv.data() + ok : hk.data();
    const float* V = cs.fused ? hqkv.data() + ov : hv.data();
    std::vector<float> hdout(B * T * C);
    for (auto& x : hdout) x = nd(rng);
    std::vector<int32_t> ks, ke;
    padding_for(cs, ks, ke);
    const int32_t* pks = cs.padded ? ks.data() : nullptr;
    const int32_t* pke = cs.padded ? ke.data() : nullptr;

    std::vector<double> rout, rlse, rdq, rdk, rdv;
    ref_forward<float>(rout, rlse, Q, K, V, ld, B, T, NH, NKV, HS, pks, pke, getf);
    ref_backward<float>(rdq, rdk, rdv, hdout.data(), Q, K, V, ld, B, T, NH, NKV, HS, pks, pke, getf);

    // device
    DevBuf<float> dq_in(n), dk_in(cs.fused ? 1 : n), dv_in(cs.fused ? 1 : n);
    if (cs.fused) {
        dq_in.up(hqkv);
    } else {
        dq_in.up(hq);
        dk_in.up(hk);
        dv_in.up(hv);
    }
    const float* dQ = dq_in.p;
    const float* dK = cs.fused ? dq_in.p + C : dk_in.p;
    const float* dV = cs.fused ? dq_in.p + C + CK : dv_in.p;
    DevBuf<float> dout_d(B * T * C), out_d(B * T * C), lse_d(B * NH * T);
    dout_d.up(hdout);
    DevBuf<int32_t> ks_d(B), ke_d(B);
    ks_d.up(ks);
    ke_d.up(ke);
    const int32_t* dks = cs.padded ? ks_d.p : nullptr;
    const int32_t* dke = cs.padded ? ke_d.p : nullptr;
    // poison the outputs: padded rows must be written as zeros
    CHECK_CUDA(cudaMemset(out_d.p, 0xff, out_d.n * sizeof(float)));
    CHECK_CUDA(cudaMemset(lse_d.p, 0xff, lse_d.n * sizeof(float)));
    CHECK_CUDA(jalign::cuda::attention_forward(out_d.p, lse_d.p, dQ, dK, dV, ld, B, T, NH, NKV, HS, dks, dke,
                                               nullptr));
    CHECK_CUDA(cudaDeviceSynchronize());
    const auto hout = out_d.down();
    const auto hlse = lse_d.down();
    const double omax = max_abs(rout, rout.size());
    report("fp32 fwd out  " + cs.name(), max_abs_diff(hout, rout, rout.size()), 2e-5 + 1e-5 * omax);
    report("fp32 fwd lse  " + cs.name(), max_abs_diff(hlse, rlse, rlse.size()),
           2e-5 + 1e-5 * max_abs(rlse, rlse.size()));

    // backward: gradients pre-filled with a known pattern to check accumulation
    std::vector<float> init(n);
    for (int64_t i = 0; i < n; i++) init[i] = (float)((i % 7) - 3) * 0.25f;
    DevBuf<float> g1(n), g2(cs.fused ? 1 : n), g3(cs.fused ? 1 : n);
    g1.up(init);
    if (!cs.fused) {
        g2.up(init);
        g3.up(init);
    }
    float* gq = g1.p;
    float* gk = cs.fused ? g1.p + C : g2.p;
    float* gv = cs.fused ? g1.p + C + CK : g3.p;
    CHECK_CUDA(jalign::cuda::attention_backward(gq, gk, gv, dout_d.p, out_d.p, lse_d.p, dQ, dK, dV, ld, B, T, NH,
                                                NKV, HS, dks, dke, nullptr));
    CHECK_CUDA(cudaDeviceSynchronize());
    std::vector<float> h1 = g1.down(), h2 = cs.fused ? h1 : g2.down(), h3 = cs.fused ? h1 : g3.down();
    for (int64_t i = 0; i < n; i++) {
        h1[i] -= init[i];
        if (!cs.fused) {
            h2[i] -= init[i];
            h3[i] -= init[i];
        }
    }
    if (cs.fused) h2 = h3 = h1;
    const int64_t offk = cs.fused ? C : 0, offv = cs.fused ? C + CK : 0;
    const auto cq = compact(h1, 0, ld, B, T, C), ck = compact(h2, offk, ld, B, T, CK),
               cv = compact(h3, offv, ld, B, T, CK);
    // the references are indexed from each tensor's own base (k, v), hence offset 0
    const auto rq = compact(rdq, 0, ld, B, T, C), rk = compact(rdk, 0, ld, B, T, CK),
               rv = compact(rdv, 0, ld, B, T, CK);
    report("fp32 bwd dq   " + cs.name(), max_abs_diff(cq, rq, rq.size()), 5e-5 + 2e-5 * max_abs(rq, rq.size()));
    report("fp32 bwd dk   " + cs.name(), max_abs_diff(ck, rk, rk.size()), 5e-5 + 2e-5 * max_abs(rk, rk.size()));
    report("fp32 bwd dv   " + cs.name(), max_abs_diff(cv, rv, rv.size()), 5e-5 + 2e-5 * max_abs(rv, rv.size()));

#ifdef JALIGN_HAVE_CPU_ATTENTION
    {
        std::vector<float> cout_(B * T * C), clse(B * NH * T), cdq(n, 0.f), cdk(n, 0.f), cdv(n, 0.f);
        jalign::cpu::attention_forward(cout_.data(), clse.data(), Q, K, V, ld, B, T, NH, NKV, HS, pks, pke);
        report("fp32 fwd out vs cpu kernel " + cs.name(), max_abs_diff(hout, cout_, cout_.size()), 2e-5 + 1e-5 * omax);
        float* pq = cdq.data();
        float* pk = cs.fused ? cdq.data() + C : cdk.data();
        float* pv = cs.fused ? cdq.data() + C + CK : cdv.data();
        jalign::cpu::attention_backward(pq, pk, pv, hdout.data(), cout_.data(), clse.data(), Q, K, V, ld, B, T, NH,
                                        NKV, HS, pks, pke);
        const auto xq = compact(cdq, 0, ld, B, T, C);
        const auto xk = compact(cs.fused ? cdq : cdk, offk, ld, B, T, CK);
        const auto xv = compact(cs.fused ? cdq : cdv, offv, ld, B, T, CK);
        report("fp32 bwd dq vs cpu kernel " + cs.name(), max_abs_diff(cq, xq, xq.size()),
               5e-5 + 2e-5 * max_abs(rq, rq.size()));
        report("fp32 bwd dk vs cpu kernel " + cs.name(), max_abs_diff(ck, xk, xk.size()),
               5e-5 + 2e-5 * max_abs(rk, rk.size()));
        report("fp32 bwd dv vs cpu kernel " + cs.name(), max_abs_diff(cv, xv, xv.size()),
               5e-5 + 2e-5 * max_abs(rv, rv.size()));
    }
#endif
}

void run_bf16(const Case& cs, std::mt19937& rng) {
    const int64_t B = cs.B, T = cs.T, NH = cs.NH, NKV = cs.kv(), HS = cs.HS, C = NH * HS, CK = NKV * HS;
    const int64_t ld = cs.fused ? C + 2 * CK : C;
    const int64_t n = B * T * ld;
    std::normal_distribution<float> nd(0.f, 1.f);
    const int nt = cs.fused ? 1 : 3;
    std::vector<std::vector<uint16_t>> hin(nt, std::vector<uint16_t>(n));
    for (auto& vec : hin)
        for (auto& x : vec) x = f2bf(nd(rng));
    const uint16_t* Q = hin[0].data();
    const uint16_t* K = cs.fused ? hin[0].data() + C : hin[1].data();
    const uint16_t* V = cs.fused ? hin[0].data() + C + CK : hin[2].data();
    std::vector<uint16_t> hdout(B * T * C);
    for (auto& x : hdout) x = f2bf(nd(rng));
    std::vector<int32_t> ks, ke;
    padding_for(cs, ks, ke);
    const int32_t* pks = cs.padded ? ks.data() : nullptr;
    const int32_t* pke = cs.padded ? ke.data() : nullptr;

    std::vector<double> rout, rlse, rdq, rdk, rdv, nout, ndq, ndk, ndv;
    ref_forward<uint16_t>(rout, rlse, Q, K, V, ld, B, T, NH, NKV, HS, pks, pke, getbf);
    ref_backward<uint16_t>(rdq, rdk, rdv, hdout.data(), Q, K, V, ld, B, T, NH, NKV, HS, pks, pke, getbf);
    naive_bf16_forward(nout, Q, K, V, ld, B, T, NH, NKV, HS, pks, pke);
    naive_bf16_backward(ndq, ndk, ndv, hdout.data(), Q, K, V, ld, B, T, NH, NKV, HS, pks, pke);

    std::vector<DevBuf<uint16_t>*> din;
    for (int i = 0; i < nt; i++) {
        din.push_back(new DevBuf<uint16_t>(n));
        din.back()->up(hin[i]);
    }
    const uint16_t* dQ = din[0]->p;
    const uint16_t* dK = cs.fused ? din[0]->p + C : din[1]->p;
    const uint16_t* dV = cs.fused ? din[0]->p + C + CK : din[2]->p;
    DevBuf<uint16_t> dout_d(B * T * C), out_d(B * T * C);
    DevBuf<float> lse_d(B * NH * T);
    dout_d.up(hdout);
    DevBuf<int32_t> ks_d(B), ke_d(B);
    ks_d.up(ks);
    ke_d.up(ke);
    const int32_t* dks = cs.padded ? ks_d.p : nullptr;
    const int32_t* dke = cs.padded ? ke_d.p : nullptr;
    CHECK_CUDA(cudaMemset(out_d.p, 0xff, out_d.n * sizeof(uint16_t)));
    CHECK_CUDA(cudaMemset(lse_d.p, 0xff, lse_d.n * sizeof(float)));
    CHECK_CUDA(jalign::cuda::attention_forward_bf16(out_d.p, lse_d.p, dQ, dK, dV, ld, B, T, NH, NKV, HS, dks, dke,
                                                    nullptr));
    CHECK_CUDA(cudaDeviceSynchronize());
    const auto hout = out_d.down();
    const auto hlse = lse_d.down();
    std::vector<double> gout(hout.size());
    for (size_t i = 0; i < hout.size(); i++) gout[i] = bf2f(hout[i]);
    const double floor_o = 1e-3 * max_abs(rout, rout.size()) + 1e-6;
    const double naive_o = max_abs_diff(nout, rout, rout.size());
    char extra[96];
    std::snprintf(extra, sizeof extra, "(naive bf16 %.3e)", naive_o);
    report("bf16 fwd out  " + cs.name(), max_abs_diff(gout, rout, rout.size()), 2 * naive_o + floor_o, extra);
    report("bf16 fwd lse  " + cs.name(), max_abs_diff(hlse, rlse, rlse.size()),
           1e-3 + 1e-3 * max_abs(rlse, rlse.size()));

    // backward twice: from zero gradients (accuracy) and from gradients holding 1.0 (accumulation)
    std::vector<std::vector<double>> got(2);
    for (int pass = 0; pass < 2; pass++) {
        const uint16_t fill = pass == 0 ? f2bf(0.f) : f2bf(1.f);
        std::vector<uint16_t> init(n, fill);
        std::vector<DevBuf<uint16_t>*> g;
        for (int i = 0; i < nt; i++) {
            g.push_back(new DevBuf<uint16_t>(n));
            g.back()->up(init);
        }
        uint16_t* gq = g[0]->p;
        uint16_t* gk = cs.fused ? g[0]->p + C : g[1]->p;
        uint16_t* gv = cs.fused ? g[0]->p + C + CK : g[2]->p;
        CHECK_CUDA(jalign::cuda::attention_backward_bf16(gq, gk, gv, dout_d.p, out_d.p, lse_d.p, dQ, dK, dV, ld, B,
                                                         T, NH, NKV, HS, dks, dke, nullptr));
        CHECK_CUDA(cudaDeviceSynchronize());
        std::vector<uint16_t> h1 = g[0]->down();
        std::vector<uint16_t> h2 = cs.fused ? h1 : g[1]->down(), h3 = cs.fused ? h1 : g[2]->down();
        auto cq = compact(h1, 0, ld, B, T, C, getbf), ck = compact(h2, cs.fused ? C : 0, ld, B, T, CK, getbf),
             cv = compact(h3, cs.fused ? C + CK : 0, ld, B, T, CK, getbf);
        got[pass].clear();
        for (auto* vv : {&cq, &ck, &cv}) got[pass].insert(got[pass].end(), vv->begin(), vv->end());
        for (auto* p : g) delete p;
    }
    const char* names[3] = {"dq", "dk", "dv"};
    const std::vector<double>* refs[3] = {&rdq, &rdk, &rdv};
    const std::vector<double>* naive[3] = {&ndq, &ndk, &ndv};
    const int64_t width[3] = {C, CK, CK}, first[3] = {0, B * T * C, B * T * (C + CK)};
    for (int i = 0; i < 3; i++) {
        const int64_t m = B * T * width[i], f0 = first[i];
        const auto r = compact(*refs[i], 0, ld, B, T, width[i]);  // references: from each tensor's own base
        const auto nv = compact(*naive[i], 0, ld, B, T, width[i]);
        const std::vector<double> gi(got[0].begin() + f0, got[0].begin() + f0 + m);
        const double nerr = max_abs_diff(nv, r, m);
        std::snprintf(extra, sizeof extra, "(naive bf16 %.3e)", nerr);
        report(std::string("bf16 bwd ") + names[i] + "   " + cs.name(), max_abs_diff(gi, r, m),
               2 * nerr + 1e-3 * max_abs(r, m) + 1e-6, extra);
        // accumulation: (1 + g) rounded to bf16 minus 1 must match g within bf16 rounding at |1 + g|
        double acc_err = 0, acc_tol = 0;
        for (int64_t x = 0; x < m; x++) {
            const double a = got[1][f0 + x] - 1.0, bb = gi[x];
            acc_err = std::max(acc_err, std::fabs(a - bb));
            if (!(a == a)) acc_err = INFINITY;
            acc_tol = std::max(acc_tol, (1.0 + std::fabs(bb)) * (1.0 / 128));
        }
        report(std::string("bf16 bwd ") + names[i] + " accumulates " + cs.name(), acc_err, acc_tol);
    }
    for (auto* p : din) delete p;
}

void run_kvcache(int64_t HS, std::mt19937& rng, int64_t NH = 2, int64_t NKV = 2) {
    const int64_t B = 3, C = NH * HS, CK = NKV * HS, maxT = 300;
    const bool fused = HS == 64;
    const int64_t ld = fused ? C + 2 * CK : C;
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<int32_t> ks = {0, 5, 0};
    std::vector<float> hkc(B * maxT * CK, 0.f), hvc(B * maxT * CK, 0.f);
    DevBuf<float> kc(B * maxT * CK), vc(B * maxT * CK);
    kc.up(hkc);
    vc.up(hvc);
    DevBuf<int32_t> ks_d(B);
    ks_d.up(ks);
    char name[128];
    // prefill 257 rows at pos 0, then decode 1 row at pos 257, then 3 rows at pos 258
    const int64_t steps[3][2] = {{257, 0}, {1, 257}, {3, 258}};
    for (const auto& st : steps) {
        const int64_t Tq = st[0], pos = st[1];
        std::vector<float> qkv(B * Tq * ld * (fused ? 1 : 3));
        for (auto& x : qkv) x = nd(rng);
        const int64_t nsep = B * Tq * ld;
        const float* hq = qkv.data();
        const float* hk = fused ? qkv.data() + C : qkv.data() + nsep;
        const float* hv = fused ? qkv.data() + C + CK : qkv.data() + 2 * nsep;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < Tq; t++)
                for (int64_t c = 0; c < CK; c++) {
                    hkc[(b * maxT + pos + t) * CK + c] = hk[b * Tq * ld + t * ld + c];
                    hvc[(b * maxT + pos + t) * CK + c] = hv[b * Tq * ld + t * ld + c];
                }
        DevBuf<float> in(qkv.size()), out(B * Tq * C);
        in.up(qkv);
        const float* dq = in.p;
        const float* dk = fused ? in.p + C : in.p + nsep;
        const float* dv = fused ? in.p + C + CK : in.p + 2 * nsep;
        CHECK_CUDA(jalign::cuda::kvcache_append(kc.p, vc.p, dk, dv, ld, B, Tq, NH, NKV, HS, maxT, pos, nullptr));
        CHECK_CUDA(jalign::cuda::attention_kvcache(out.p, dq, kc.p, vc.p, ld, B, Tq, NH, NKV, HS, maxT, pos, ks_d.p,
                                                   nullptr));
        CHECK_CUDA(cudaDeviceSynchronize());
        std::snprintf(name, sizeof name,
                      "B=%" PRId64 " NH=%" PRId64 " NKV=%" PRId64 " HS=%" PRId64 " Tq=%" PRId64 " pos=%" PRId64 "%s", B,
                      NH, NKV, HS, Tq, pos, fused ? " qkv" : "");
        report(std::string("kvcache_append k ") + name, max_abs_diff(kc.down(), hkc, hkc.size()), 0.0);
        report(std::string("kvcache_append v ") + name, max_abs_diff(vc.down(), hvc, hvc.size()), 0.0);
        std::vector<double> ref;
        ref_kvcache(ref, hq, hkc.data(), hvc.data(), ld, B, Tq, NH, NKV, HS, maxT, pos, ks.data());
        const auto got = out.down();
        report(std::string("attention_kvcache ") + name, max_abs_diff(got, ref, ref.size()),
               2e-5 + 1e-5 * max_abs(ref, ref.size()));
#ifdef JALIGN_HAVE_CPU_ATTENTION
        std::vector<float> cpu_out(B * Tq * C);
        jalign::cpu::attention_kvcache(cpu_out.data(), hq, hkc.data(), hvc.data(), ld, B, Tq, NH, NKV, HS, maxT,
                                       pos, ks.data());
        report(std::string("attention_kvcache vs cpu kernel ") + name, max_abs_diff(got, cpu_out, cpu_out.size()),
               2e-5 + 1e-5 * max_abs(ref, ref.size()));
#endif
    }
}

// The double reference's gradients against central finite differences of its own forward, for
// L = sum(out * dout), on a small padded fused-QKV case. Runs on the host (no GPU needed).
void check_reference_gradients(int64_t NH = 2, int64_t NKV = 2) {
    const int64_t B = 2, T = 6, HS = 32, C = NH * HS, CK = NKV * HS, ld = C + 2 * CK;
    std::mt19937 rng(7);
    std::normal_distribution<double> nd(0.0, 1.0);
    std::vector<double> qkv(B * T * ld), dout(B * T * C);
    for (auto& x : qkv) x = nd(rng);
    for (auto& x : dout) x = nd(rng);
    const int32_t ks[2] = {0, 2}, ke[2] = {5, 6};
    std::vector<float> f(qkv.begin(), qkv.end()), fd(dout.begin(), dout.end());
    std::vector<double> dq, dk, dv;
    ref_backward<float>(dq, dk, dv, fd.data(), f.data(), f.data() + C, f.data() + C + CK, ld, B, T, NH, NKV, HS, ks,
                        ke, getf);
    auto loss = [&](std::vector<float>& w) {
        std::vector<double> out, lse;
        ref_forward<float>(out, lse, w.data(), w.data() + C, w.data() + C + CK, ld, B, T, NH, NKV, HS, ks, ke, getf);
        double L = 0;
        for (size_t i = 0; i < out.size(); i++) L += out[i] * fd[i];
        return L;
    };
    double err = 0, mag = 0;
    const float hstep = 1e-2f;
    for (int64_t idx = 0; idx < B * T * ld; idx += 5) {
        const int64_t c = idx % ld;
        const double analytic = c < C ? dq[idx] : (c < C + CK ? dk[idx - C] : dv[idx - C - CK]);
        std::vector<float> w = f;
        w[idx] = f[idx] + hstep;
        const double lp = loss(w);
        w[idx] = f[idx] - hstep;
        const double lm = loss(w);
        const double numeric = (lp - lm) / ((double)(f[idx] + hstep) - (double)(f[idx] - hstep));
        err = std::max(err, std::fabs(numeric - analytic));
        mag = std::max(mag, std::fabs(analytic));
    }
    report("reference gradients vs finite differences NH=" + std::to_string(NH) + " NKV=" + std::to_string(NKV), err,
           2e-3 * (1.0 + mag));
}

}  // namespace

int main(int argc, char** argv) {
    check_reference_gradients();
    check_reference_gradients(4, 2);
    check_reference_gradients(3, 1);
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        std::printf("SKIP test_cuda_attention: no CUDA device\n");
        return 2;
    }
    cudaDeviceProp prop;
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    // --quick: one head per case; --T N / --HS N: only that sequence length / head size (the KV-cache cases
    // prefill 257 rows)
    bool quick = false;
    int64_t only_T = 0, only_HS = 0;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "--quick") quick = true;
        else if (a == "--T" && i + 1 < argc) only_T = std::atoll(argv[++i]);
        else if (a == "--HS" && i + 1 < argc) only_HS = std::atoll(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--quick] [--T N] [--HS N]\n", argv[0]);
            return 2;
        }
    }
    std::mt19937 rng(1234);
    const int64_t Ts[] = {1, 7, 64, 257};
    const int64_t HSs[] = {32, 64, 128};
    for (int64_t T : Ts)
        for (int64_t HS : HSs)
            for (int padded = 0; padded < 2; padded++) {
                if ((only_T && T != only_T) || (only_HS && HS != only_HS)) continue;
                const bool fused = ((T + HS / 32 + padded) % 2) == 1;
                Case cs{2 + padded, T, quick ? 1 : 2, HS, fused, padded == 1};
                run_fp32(cs, rng);
                run_bf16(cs, rng);
            }
    if (!quick) {
        // longer sequences: many key tiles, a length that is not a multiple of any tile
        for (int64_t HS : {64, 128}) {
            if ((only_T && only_T != 1000) || (only_HS && HS != only_HS)) continue;
            Case cs{2, 1000, 1, HS, HS == 128, HS == 64};
            run_fp32(cs, rng);
            run_bf16(cs, rng);
        }
    }
    // grouped-query (NH = 4 over NKV = 2) and multi-query (NH = 6 over one kv head), fused and separate, padded
    for (int64_t HS : HSs)
        for (int64_t T : {7, 130}) {
            if ((only_T && T != only_T) || (only_HS && HS != only_HS)) continue;
            Case gqa{2, T, 4, HS, T == 130, true};
            gqa.NKV = 2;
            run_fp32(gqa, rng);
            run_bf16(gqa, rng);
            Case mqa{3, T, 6, HS, T != 130, T == 130};
            mqa.NKV = 1;
            run_fp32(mqa, rng);
            run_bf16(mqa, rng);
        }
    if (!quick) {
        // the 64-row forward tiles (JALIGN_ATTN_FWD_TILE=64) on the same kinds of cases
        setenv("JALIGN_ATTN_FWD_TILE", "64", 1);
        for (int64_t HS : HSs) {
            if ((only_T && only_T != 257) || (only_HS && HS != only_HS)) continue;
            std::printf("-- 64-row forward tiles\n");
            run_bf16(Case{3, 257, 2, HS, HS == 64, true}, rng);
        }
        unsetenv("JALIGN_ATTN_FWD_TILE");
    }
    for (int64_t HS : HSs)
        if ((!only_HS || HS == only_HS) && (!only_T || only_T == 257)) {  // the cache holds 257 + 4 rows
            run_kvcache(HS, rng);
            run_kvcache(HS, rng, 4, 2);
            run_kvcache(HS, rng, 6, 1);
        }
    std::printf("%s: %d of %d checks failed\n", g_failures ? "FAIL" : "PASS", g_failures, g_checks);
    return g_failures ? 1 : 0;
}
