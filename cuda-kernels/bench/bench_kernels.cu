// jalign CUDA kernel benchmarks: fused causal attention (fp32 and bf16, forward and forward+backward),
// top-p sampling, the fused PPO loss and the Llama-family ops (RMSNorm, RoPE, SwiGLU; GB/s). Timing with CUDA events; the L2 cache is flushed before every
// repeat by writing a 256 MB buffer; warm-ups first; the median of the repeats is reported.
//
// Shape legend: B = batch, T = time, NH = query heads, NKV = key/value heads, HS = head size, V = vocab,
// N = B*T rows.
//   attention FLOPs: forward 4*B*T^2*NH*HS/2 (causal), backward 2.5x forward, forward+backward 3.5x.
//
// Usage: bench_kernels [--json PATH] [--reps N] [--warmup N] [--quick]
// Prints one line per figure:  RESULT name=<name> <key>=<value> ...  and writes the same figures as JSON.
// Sampling (sampling.cu), the PPO loss (losses.cu) and the Llama-family ops (llama.cu) are benchmarked when their
// sources are in the tree (override with -DJALIGN_BENCH_SAMPLING=0/1, -DJALIGN_BENCH_PPO=0/1, -DJALIGN_BENCH_LLAMA=0/1).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "jalign_cuda.h"

#ifndef JALIGN_BENCH_SAMPLING
#if __has_include("../sampling.cu")
#define JALIGN_BENCH_SAMPLING 1
#else
#define JALIGN_BENCH_SAMPLING 0
#endif
#endif
#ifndef JALIGN_BENCH_PPO
#if __has_include("../losses.cu")
#define JALIGN_BENCH_PPO 1
#else
#define JALIGN_BENCH_PPO 0
#endif
#endif

#ifndef JALIGN_BENCH_LLAMA
#if __has_include("../llama.cu")
#define JALIGN_BENCH_LLAMA 1
#else
#define JALIGN_BENCH_LLAMA 0
#endif
#endif

namespace {

#define CHECK_CUDA(call)                                                                                   \
    do {                                                                                                   \
        int err_ = (int)(call);                                                                            \
        if (err_ != 0) {                                                                                   \
            std::fprintf(stderr, "%s:%d: CUDA error %d (%s) in %s\n", __FILE__, __LINE__, err_,             \
                         cudaGetErrorString((cudaError_t)err_), #call);                                     \
            std::exit(1);                                                                                  \
        }                                                                                                  \
    } while (0)

struct Opts {
    int reps = 10;
    int warmup = 3;
    bool quick = false;
    std::string json;
};

// One reported figure: a name plus ordered key/value pairs.
struct Figure {
    std::string name;
    std::vector<std::pair<std::string, std::string>> kv;
    void add(const std::string& k, double v) {
        char s[64];
        std::snprintf(s, sizeof s, "%.6g", v);
        kv.emplace_back(k, s);
    }
    void add_int(const std::string& k, long long v) { kv.emplace_back(k, std::to_string(v)); }
    void add_str(const std::string& k, const std::string& v) { kv.emplace_back(k, "\"" + v + "\""); }
};
std::vector<Figure> g_figures;

void emit(const Figure& f) {
    std::printf("RESULT name=%s", f.name.c_str());
    for (const auto& p : f.kv) {
        std::string v = p.second;
        if (!v.empty() && v.front() == '"') v = v.substr(1, v.size() - 2);
        std::printf(" %s=%s", p.first.c_str(), v.c_str());
    }
    std::printf("\n");
    std::fflush(stdout);
    g_figures.push_back(f);
}

void emit_error(const std::string& name, int err) {
    Figure f;
    f.name = name;
    f.add_str("error", cudaGetErrorString((cudaError_t)err));
    emit(f);
    cudaGetLastError();  // clear a sticky launch error where possible
}

struct Timer {
    cudaEvent_t a, b;
    void* flush = nullptr;
    size_t flush_bytes = 256ull << 20;  // > L2 of any current GPU (H200: 50 MB)
    Timer() {
        CHECK_CUDA(cudaEventCreate(&a));
        CHECK_CUDA(cudaEventCreate(&b));
        CHECK_CUDA(cudaMalloc(&flush, flush_bytes));
    }
    ~Timer() {
        cudaEventDestroy(a);
        cudaEventDestroy(b);
        cudaFree(flush);
    }
    // Median milliseconds of `reps` runs of op (after `warmup` runs); prep runs untimed before each.
    // Returns a negative value (the negated error) if op fails.
    double median_ms(const Opts& o, const std::function<int()>& op, const std::function<void()>& prep = nullptr) {
        for (int i = 0; i < o.warmup; i++) {
            if (prep) prep();
            const int err = op();
            if (err) return -err;
        }
        CHECK_CUDA(cudaDeviceSynchronize());
        std::vector<double> ms;
        for (int i = 0; i < o.reps; i++) {
            if (prep) prep();
            CHECK_CUDA(cudaMemsetAsync(flush, i & 0xff, flush_bytes, 0));
            CHECK_CUDA(cudaEventRecord(a, 0));
            const int err = op();
            CHECK_CUDA(cudaEventRecord(b, 0));
            if (err) return -err;
            CHECK_CUDA(cudaEventSynchronize(b));
            float t = 0;
            CHECK_CUDA(cudaEventElapsedTime(&t, a, b));
            ms.push_back(t);
        }
        const int err = (int)cudaDeviceSynchronize();
        if (err) return -err;
        std::sort(ms.begin(), ms.end());
        return ms[ms.size() / 2];
    }
};

template <typename T>
struct DevBuf {
    T* p = nullptr;
    size_t n = 0;
    explicit DevBuf(size_t count) : n(count) { CHECK_CUDA(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T))); }
    ~DevBuf() { cudaFree(p); }
    DevBuf(const DevBuf&) = delete;
    DevBuf& operator=(const DevBuf&) = delete;
    size_t bytes() const { return n * sizeof(T); }
};

// Fills n floats with N(0, sigma) on the device (host generator, one upload).
void fill_normal(float* d, size_t n, float sigma, uint32_t seed) {
    std::vector<float> h(n);
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.f, sigma);
    for (auto& x : h) x = nd(rng);
    CHECK_CUDA(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice));
}

__global__ void to_bf16_kernel(uint16_t* out, const float* in, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint32_t u = __float_as_uint(in[i]);
        u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even (inputs are finite)
        out[i] = (uint16_t)(u >> 16);
    }
}

// Checks the first elements of a device buffer are finite (a cheap guard against timing garbage).
template <typename T>
bool finite_prefix(const T* d, size_t n) {
    n = std::min<size_t>(n, 1 << 16);
    std::vector<T> h(n);
    if (cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost) != cudaSuccess) return false;
    for (size_t i = 0; i < n; i++) {
        float f;
        if (sizeof(T) == 2) {
            uint32_t u = (uint32_t)(*reinterpret_cast<const uint16_t*>(&h[i])) << 16;
            std::memcpy(&f, &u, 4);
        } else {
            std::memcpy(&f, &h[i], 4);
        }
        if (!std::isfinite(f)) return false;
    }
    return true;
}

// ------------------------------------------------------------------ attention

// fwd_only: skip forward+backward; suffix: appended to the figure names (tile variants).
// q, k, v (and dq, dk, dv) are separate (B, T, C) buffers with ld = C; k and v use their first NKV heads.
void bench_attention(Timer& tm, const Opts& o, int64_t B, int64_t NH, int64_t NKV, int64_t T, int64_t HS,
                     bool bf16, bool fwd_only = false, const std::string& suffix = "") {
    const int64_t C = NH * HS, n = B * T * C;
    const double fwd_flops = 4.0 * B * (double)T * T * NH * HS / 2.0;
    const char* prec = bf16 ? "bf16" : "fp32";
    const size_t es = bf16 ? 2 : 4;
    DevBuf<unsigned char> q(n * es), k(n * es), v(n * es), out(n * es), dout(n * es), dq(n * es), dk(n * es),
        dv(n * es);
    DevBuf<float> lse(B * NH * T);
    {
        DevBuf<float> tmp(n);
        unsigned char* bufs[4] = {q.p, k.p, v.p, dout.p};
        for (int i = 0; i < 4; i++) {
            fill_normal(tmp.p, n, 1.f, 100 + i);
            if (bf16)
                to_bf16_kernel<<<4096, 256>>>(reinterpret_cast<uint16_t*>(bufs[i]), tmp.p, n);
            else
                CHECK_CUDA(cudaMemcpy(bufs[i], tmp.p, n * 4, cudaMemcpyDeviceToDevice));
        }
        CHECK_CUDA(cudaDeviceSynchronize());
    }
    auto fwd = [&]() -> int {
        if (bf16)
            return jalign::cuda::attention_forward_bf16(
                reinterpret_cast<uint16_t*>(out.p), lse.p, reinterpret_cast<const uint16_t*>(q.p),
                reinterpret_cast<const uint16_t*>(k.p), reinterpret_cast<const uint16_t*>(v.p), C, B, T, NH, NKV, HS,
                nullptr, nullptr, 0);
        return jalign::cuda::attention_forward(reinterpret_cast<float*>(out.p), lse.p,
                                               reinterpret_cast<const float*>(q.p),
                                               reinterpret_cast<const float*>(k.p),
                                               reinterpret_cast<const float*>(v.p), C, B, T, NH, NKV, HS, nullptr,
                                               nullptr, 0);
    };
    auto bwd = [&]() -> int {
        if (bf16)
            return jalign::cuda::attention_backward_bf16(
                reinterpret_cast<uint16_t*>(dq.p), reinterpret_cast<uint16_t*>(dk.p),
                reinterpret_cast<uint16_t*>(dv.p), reinterpret_cast<const uint16_t*>(dout.p),
                reinterpret_cast<const uint16_t*>(out.p), lse.p, reinterpret_cast<const uint16_t*>(q.p),
                reinterpret_cast<const uint16_t*>(k.p), reinterpret_cast<const uint16_t*>(v.p), C, B, T, NH, NKV, HS,
                nullptr, nullptr, 0);
        return jalign::cuda::attention_backward(
            reinterpret_cast<float*>(dq.p), reinterpret_cast<float*>(dk.p), reinterpret_cast<float*>(dv.p),
            reinterpret_cast<const float*>(dout.p), reinterpret_cast<const float*>(out.p), lse.p,
            reinterpret_cast<const float*>(q.p), reinterpret_cast<const float*>(k.p),
            reinterpret_cast<const float*>(v.p), C, B, T, NH, NKV, HS, nullptr, nullptr, 0);
    };
    auto zero_grads = [&]() {
        CHECK_CUDA(cudaMemsetAsync(dq.p, 0, dq.bytes(), 0));
        CHECK_CUDA(cudaMemsetAsync(dk.p, 0, dk.bytes(), 0));
        CHECK_CUDA(cudaMemsetAsync(dv.p, 0, dv.bytes(), 0));
    };
    auto add_shape = [&](Figure& f) {
        f.add_int("B", B);
        f.add_int("NH", NH);
        if (NKV != NH) f.add_int("NKV", NKV);
        f.add_int("T", T);
        f.add_int("HS", HS);
    };
    const double ms_f = tm.median_ms(o, fwd);
    std::string name = std::string("attn_fwd_") + prec + suffix;
    if (ms_f < 0) {
        emit_error(name, (int)-ms_f);
        return;
    }
    Figure f1;
    f1.name = name;
    add_shape(f1);
    f1.add("ms", ms_f);
    f1.add("tflops", fwd_flops / (ms_f * 1e-3) / 1e12);
    if (!(bf16 ? finite_prefix(reinterpret_cast<uint16_t*>(out.p), n) : finite_prefix(reinterpret_cast<float*>(out.p), n)))
        f1.add_str("warning", "non-finite output");
    emit(f1);
    if (fwd_only) return;

    const double ms_fb = tm.median_ms(o, [&]() -> int {
        const int e = fwd();
        return e ? e : bwd();
    }, zero_grads);
    name = std::string("attn_fwdbwd_") + prec + suffix;
    if (ms_fb < 0) {
        emit_error(name, (int)-ms_fb);
        return;
    }
    Figure f2;
    f2.name = name;
    add_shape(f2);
    f2.add("ms", ms_fb);
    f2.add("tflops", 3.5 * fwd_flops / (ms_fb * 1e-3) / 1e12);
    f2.add("bwd_ms", ms_fb - ms_f);
    f2.add("bwd_tflops", 2.5 * fwd_flops / ((ms_fb - ms_f) * 1e-3) / 1e12);
    if (!(bf16 ? finite_prefix(reinterpret_cast<uint16_t*>(dq.p), n) : finite_prefix(reinterpret_cast<float*>(dq.p), n)))
        f2.add_str("warning", "non-finite gradient");
    emit(f2);
}

// ------------------------------------------------------------------ sampling

#if JALIGN_BENCH_SAMPLING
void bench_sampling(Timer& tm, const Opts& o, int64_t B, int64_t V) {
    DevBuf<float> logits(B * V), logp(B), logp_raw(B), top_p(B), temp(B);
    DevBuf<int32_t> ids(B);
    DevBuf<uint64_t> seeds(B);
    fill_normal(logits.p, B * V, 2.f, 7);
    std::vector<float> hp(B, 0.9f), ht(B, 1.0f);
    std::vector<uint64_t> hs(B);
    for (int64_t i = 0; i < B; i++) hs[i] = 1000 + i;
    CHECK_CUDA(cudaMemcpy(top_p.p, hp.data(), B * 4, cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(temp.p, ht.data(), B * 4, cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(seeds.p, hs.data(), B * 8, cudaMemcpyHostToDevice));
    uint64_t offset = 0;
    const double ms = tm.median_ms(o, [&]() -> int {
        return jalign::cuda::sample(ids.p, logp.p, logp_raw.p, logits.p, B, V, V, temp.p, nullptr, top_p.p, nullptr,
                                    seeds.p, offset++, 0);
    });
    if (ms < 0) {
        emit_error("sample_top_p", (int)-ms);
        return;
    }
    Figure f;
    f.name = "sample_top_p";
    f.add_int("B", B);
    f.add_int("V", V);
    f.add("top_p", 0.9);
    f.add("ms", ms);
    f.add("gbps", (double)B * V * 4 / (ms * 1e-3) / 1e9);  // one read of the logits
    emit(f);
}
#endif

// ------------------------------------------------------------------ PPO loss

#if JALIGN_BENCH_PPO
void bench_ppo(Timer& tm, const Opts& o, int64_t B, int64_t T, int64_t V) {
    const int64_t N = B * T;
    DevBuf<float> logits(N * V), dlogits(N * V), old_logp(N), adv(N), ref_logp(N), mask(N), logp_out(N), metrics(16);
    DevBuf<int32_t> tokens(N);
    fill_normal(logits.p, N * V, 2.f, 11);
    fill_normal(adv.p, N, 1.f, 12);
    {
        std::vector<float> h(N);
        std::mt19937 rng(13);
        std::uniform_real_distribution<float> u(-12.f, -8.f);
        for (auto& x : h) x = u(rng);
        CHECK_CUDA(cudaMemcpy(old_logp.p, h.data(), N * 4, cudaMemcpyHostToDevice));
        for (auto& x : h) x = u(rng);
        CHECK_CUDA(cudaMemcpy(ref_logp.p, h.data(), N * 4, cudaMemcpyHostToDevice));
        for (int64_t i = 0; i < N; i++) h[i] = (i % T) < (T * 7) / 8 ? 1.f : 0.f;  // right padding
        CHECK_CUDA(cudaMemcpy(mask.p, h.data(), N * 4, cudaMemcpyHostToDevice));
        std::vector<int32_t> ht(N);
        for (int64_t i = 0; i < N; i++) ht[i] = (int32_t)((i * 7919) % V);
        CHECK_CUDA(cudaMemcpy(tokens.p, ht.data(), N * 4, cudaMemcpyHostToDevice));
    }
    // scratch: the launcher's own allocations from the device's default memory pool (high-water mark)
    cudaMemPool_t pool;
    CHECK_CUDA(cudaDeviceGetDefaultMemPool(&pool, 0));
    uint64_t zero = 0;
    CHECK_CUDA(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero));
    size_t free0 = 0, total = 0;
    CHECK_CUDA(cudaMemGetInfo(&free0, &total));
    auto op = [&]() -> int {
        return jalign::cuda::ppo_loss(metrics.p, logp_out.p, dlogits.p, logits.p, tokens.p, old_logp.p, adv.p,
                                      ref_logp.p, mask.p, N, V, V, 0.2f, 3.0f, 0.01f, 0.05f, 3, 0);
    };
    const double ms = tm.median_ms(o, op);
    if (ms < 0) {
        emit_error("ppo_loss", (int)-ms);
        return;
    }
    uint64_t high = 0;
    CHECK_CUDA(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &high));
    size_t free1 = 0;
    CHECK_CUDA(cudaMemGetInfo(&free1, &total));
    const size_t scratch = std::max<size_t>((size_t)high, free0 > free1 ? free0 - free1 : 0);
    const size_t io = logits.bytes() + dlogits.bytes() + 7 * N * 4;
    Figure f;
    f.name = "ppo_loss";
    f.add_int("B", B);
    f.add_int("T", T);
    f.add_int("V", V);
    f.add("ms", ms);
    f.add("gbps", 2.0 * N * V * 4 / (ms * 1e-3) / 1e9);  // logits read + dlogits written
    f.add_int("scratch_bytes", (long long)scratch);
    f.add_int("peak_bytes", (long long)(io + scratch));
    emit(f);
}
#endif

#if JALIGN_BENCH_LLAMA
// Times op and reports GB/s from the bytes it must move at minimum.
void bench_stream(Timer& tm, const Opts& o, const char* name, const char* shape_key, int64_t rows, int64_t width,
                  double bytes, const std::function<int()>& op) {
    const double ms = tm.median_ms(o, op);
    if (ms < 0) {
        emit_error(name, (int)-ms);
        return;
    }
    Figure f;
    f.name = name;
    f.add_int("N", rows);
    f.add_int(shape_key, width);
    f.add("ms", ms);
    f.add("gbps", bytes / (ms * 1e-3) / 1e9);
    emit(f);
}

// Llama-family ops at Llama-3-8B sizes: N = 8192 rows (B = 4, T = 2048), C = 4096; RoPE on the q (32 heads) and
// k (8 heads) blocks of the fused (N, 6144) projection, HS = 128; SwiGLU with F = 14336 on N/2 rows.
void bench_llama(Timer& tm, const Opts& o) {
    namespace jc = jalign::cuda;
    const int64_t N = o.quick ? 2048 : 8192, C = 4096, HS = 128, NH = 32, NKV = 8, ld = (NH + 2 * NKV) * HS;
    {
        DevBuf<float> x(N * C), out(N * C), w(C), rstd(N), dx(N * C), dw(C);
        fill_normal(x.p, x.n, 1.f, 11);
        fill_normal(w.p, w.n, 1.f, 12);
        CHECK_CUDA(cudaMemset(dx.p, 0, dx.bytes()));
        CHECK_CUDA(cudaMemset(dw.p, 0, dw.bytes()));
        bench_stream(tm, o, "rmsnorm_fwd", "C", N, C, 2.0 * N * C * 4,
                     [&] { return jc::rmsnorm_forward(out.p, rstd.p, x.p, w.p, N, C, 1e-5f, 0); });
        bench_stream(tm, o, "rmsnorm_bwd", "C", N, C, 4.0 * N * C * 4,  // dout, inp read; dinp read + written
                     [&] { return jc::rmsnorm_backward(dx.p, dw.p, out.p, x.p, w.p, rstd.p, N, C, 0); });
    }
    {
        DevBuf<float> qkv(N * ld), inv(HS / 2);
        DevBuf<int32_t> pos(N);
        fill_normal(qkv.p, qkv.n, 1.f, 13);
        std::vector<float> hi(HS / 2);
        for (int64_t d = 0; d < HS / 2; d++) hi[d] = (float)std::pow(500000.0, -2.0 * d / HS);
        std::vector<int32_t> hp(N);
        for (int64_t i = 0; i < N; i++) hp[i] = (int32_t)(i % 2048);
        CHECK_CUDA(cudaMemcpy(inv.p, hi.data(), inv.bytes(), cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaMemcpy(pos.p, hp.data(), pos.bytes(), cudaMemcpyHostToDevice));
        bench_stream(tm, o, "rope_fwd_qk", "HS", N, HS, 2.0 * N * (NH + NKV) * HS * 4, [&] {
            const int e = jc::rope(qkv.p, pos.p, inv.p, ld, 1, N, NH, HS, false, 0);
            return e ? e : jc::rope(qkv.p + NH * HS, pos.p, inv.p, ld, 1, N, NKV, HS, false, 0);
        });
    }
    {
        const int64_t R = N / 2, F = 14336;
        DevBuf<float> gu(R * 2 * F), out(R * F), dgu(R * 2 * F);
        fill_normal(gu.p, gu.n, 2.f, 14);
        CHECK_CUDA(cudaMemset(dgu.p, 0, dgu.bytes()));
        bench_stream(tm, o, "swiglu_fwd", "F", R, F, 3.0 * R * F * 4,
                     [&] { return jc::swiglu_forward(out.p, gu.p, R, F, 0); });
        bench_stream(tm, o, "swiglu_bwd", "F", R, F, 7.0 * R * F * 4,  // gu, dout read; dgu read + written
                     [&] { return jc::swiglu_backward(dgu.p, out.p, gu.p, R, F, 0); });
    }
}
#endif

void write_json(const std::string& path, const cudaDeviceProp& prop, const Opts& o) {
    FILE* fp = std::fopen(path.c_str(), "w");
    if (!fp) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return;
    }
    std::fprintf(fp, "{\n  \"device\": \"%s\",\n  \"reps\": %d,\n  \"warmup\": %d,\n  \"results\": [\n", prop.name,
                 o.reps, o.warmup);
    for (size_t i = 0; i < g_figures.size(); i++) {
        const Figure& f = g_figures[i];
        std::fprintf(fp, "    {\"name\": \"%s\"", f.name.c_str());
        for (const auto& p : f.kv) std::fprintf(fp, ", \"%s\": %s", p.first.c_str(), p.second.c_str());
        std::fprintf(fp, "}%s\n", i + 1 < g_figures.size() ? "," : "");
    }
    std::fprintf(fp, "  ]\n}\n");
    std::fclose(fp);
    std::printf("wrote %s\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    Opts o;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "--json" && i + 1 < argc) o.json = argv[++i];
        else if (a == "--reps" && i + 1 < argc) o.reps = std::max(1, std::atoi(argv[++i]));
        else if (a == "--warmup" && i + 1 < argc) o.warmup = std::max(0, std::atoi(argv[++i]));
        else if (a == "--quick") o.quick = true;
        else if (a[0] != '-') o.json = a;
        else {
            std::fprintf(stderr, "usage: %s [--json PATH] [--reps N] [--warmup N] [--quick]\n", argv[0]);
            return 2;
        }
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        std::printf("SKIP bench_kernels: no CUDA device\n");
        return 2;
    }
    cudaDeviceProp prop;
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s (sm_%d%d, %d SMs, L2 %d MB)\n", prop.name, prop.major, prop.minor,
                prop.multiProcessorCount, prop.l2CacheSize >> 20);
    if (o.quick) o.reps = std::min(o.reps, 3);
    Timer tm;
    struct Shape {
        int64_t B, NH, NKV, T, HS;
    };
    // multi-head shapes, then grouped-query (Llama-style 32 query heads over 8 kv heads) beside its multi-head twin
    const Shape shapes[] = {{4, 16, 16, 1024, 64}, {2, 16, 16, 4096, 128}, {1, 32, 32, 8192, 128},
                            {2, 32, 8, 2048, 128}, {2, 32, 32, 2048, 128}};
    for (bool bf16 : {true, false})
        for (const Shape& s : shapes) bench_attention(tm, o, s.B, s.NH, s.NKV, s.T, s.HS, bf16);
    // the bf16 forward with 64-row tiles (the default uses 128-row tiles), for comparison
    setenv("JALIGN_ATTN_FWD_TILE", "64", 1);
    for (const Shape& s : shapes)
        if (s.NKV == s.NH) bench_attention(tm, o, s.B, s.NH, s.NKV, s.T, s.HS, true, true, "_tile64");
    unsetenv("JALIGN_ATTN_FWD_TILE");
#if JALIGN_BENCH_SAMPLING
    bench_sampling(tm, o, 64, 50304);
    bench_sampling(tm, o, 256, 128256);
#else
    std::printf("NOTE sampling benchmark not built (cuda-kernels/sampling.cu absent)\n");
#endif
#if JALIGN_BENCH_PPO
    bench_ppo(tm, o, 8, 512, 50304);
#else
    std::printf("NOTE PPO loss benchmark not built (cuda-kernels/losses.cu absent)\n");
#endif
#if JALIGN_BENCH_LLAMA
    bench_llama(tm, o);
#else
    std::printf("NOTE Llama-family op benchmarks not built (cuda-kernels/llama.cu absent)\n");
#endif
    if (!o.json.empty()) write_json(o.json, prop, o);
    return 0;
}
