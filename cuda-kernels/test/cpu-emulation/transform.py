"""Rewrites cuda-kernels/attention.cu and common/attention_mma.cuh into host C++ for the CPU emulation:
the inline-PTX helpers (mma.sync, ldmatrix, cp.async) become emulated warp collectives, dynamic shared
memory becomes the emulator's per-block buffer and <<<...>>> launches become emu::launch calls.
Usage: transform.py REPO_ROOT OUT_DIR  (writes attention_mma_emulated.h and attention_emulated.cpp)"""
import re, sys
root = sys.argv[1]; out = sys.argv[2]
hdr = open(root + '/cuda-kernels/common/attention_mma.cuh').read()
names = ['smem_u32', 'mma_bf16', 'ldmatrix_x4', 'ldmatrix_x4_trans', 'cp_async16', 'cp_async_commit', 'cp_async_wait']
for n in names:
    one = re.compile(r'__device__ __forceinline__ \w+ ' + n + r'\([^\n]*\}\n')
    hdr, k = one.subn('', hdr, count=1)
    if k == 1: continue
    pat = re.compile(r'(template <int N>\n)?__device__ __forceinline__ \w+ ' + n + r'\(.*?\n}\n', re.S)
    hdr, k = pat.subn('', hdr, count=1)
    if k != 1:
        pat2 = re.compile(r'(template <int N>\n)?__device__ __forceinline__ \w+ ' + n + r'\([^\n]*\}\n', re.S)
        hdr, k = pat2.subn('', hdr, count=1)
    assert k == 1, n
emu_funcs = r'''
inline float emu_bf(uint32_t h) { uint32_t u = h << 16; float f; std::memcpy(&f, &u, 4); return f; }
inline void emu_check_smem(const void* p, size_t bytes, const char* what) {
    const uintptr_t b = (uintptr_t)emu::g_dyn_smem, q = (uintptr_t)p;
    if (q < b || q + bytes > b + emu::g_dyn_smem_bytes || (q - b) % 16 != 0) {
        std::fprintf(stderr, "emu: %s outside/misaligned in dynamic smem: offset %ld of %zu\n", what, (long)(q - b), emu::g_dyn_smem_bytes);
        std::abort();
    }
}
inline void mma_bf16(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    uint64_t* s = emu::warp_slots(6);
    const int l = emu::lane();
    for (int i = 0; i < 4; i++) s[l * 6 + i] = a[i];
    s[l * 6 + 4] = b0; s[l * 6 + 5] = b1;
    emu::warp_sync();
    auto half = [](uint64_t w, int k) { return (uint32_t)((k & 1) ? (w >> 16) & 0xffff : w & 0xffff); };
    auto A = [&](int row, int k) { int ln = (row % 8) * 4 + (k % 8) / 2; int reg = (row >= 8) + 2 * (k >= 8); return emu_bf(half(s[ln * 6 + reg], k)); };
    auto Bm = [&](int k, int n) { int ln = n * 4 + (k % 8) / 2; int reg = 4 + (k >= 8); return emu_bf(half(s[ln * 6 + reg], k)); };
    const int g = l >> 2, cc = l & 3;
    float r4[4];
    for (int r = 0; r < 4; r++) {
        const int row = g + 8 * (r >= 2), n = 2 * cc + (r & 1);
        float acc = 0.f;
        for (int k = 0; k < 16; k++) acc += A(row, k) * Bm(k, n);
        r4[r] = acc;
    }
    emu::warp_sync();
    for (int r = 0; r < 4; r++) c[r] += r4[r];
}
inline void emu_ldmatrix(uint32_t* r, const void* p, bool trans) {
    emu_check_smem(p, 16, "ldmatrix row");
    uint64_t* s = emu::warp_slots(1);
    const int l = emu::lane();
    s[l] = (uint64_t)(uintptr_t)p;
    emu::warp_sync();
    uint32_t out[4];
    for (int i = 0; i < 4; i++) {
        if (!trans) {
            const uint16_t* row = (const uint16_t*)(uintptr_t)s[8 * i + l / 4];
            out[i] = row[2 * (l % 4)] | ((uint32_t)row[2 * (l % 4) + 1] << 16);
        } else {
            const uint16_t* r0 = (const uint16_t*)(uintptr_t)s[8 * i + 2 * (l % 4)];
            const uint16_t* r1 = (const uint16_t*)(uintptr_t)s[8 * i + 2 * (l % 4) + 1];
            out[i] = r0[l / 4] | ((uint32_t)r1[l / 4] << 16);
        }
    }
    emu::warp_sync();
    for (int i = 0; i < 4; i++) r[i] = out[i];
}
inline void ldmatrix_x4(uint32_t* r, const void* p) { emu_ldmatrix(r, p, false); }
inline void ldmatrix_x4_trans(uint32_t* r, const void* p) { emu_ldmatrix(r, p, true); }
inline void cp_async16(void* smem, const void* gmem) {
    emu_check_smem(smem, 16, "cp.async dst");
    if (((uintptr_t)gmem & 15) != 0) { std::fprintf(stderr, "emu: cp.async misaligned global source\n"); std::abort(); }
    std::memcpy(smem, gmem, 16);
}
inline void cp_async_commit() {}
template <int N> inline void cp_async_wait() {}
'''
hdr = hdr.replace('namespace attn {\n', 'namespace attn {\n' + emu_funcs, 1)
open(out + '/attention_mma_emulated.h', 'w').write(hdr)

src = open(root + '/cuda-kernels/attention.cu').read()
src = src.replace('#include "common/attention_mma.cuh"', '#include "attention_mma_emulated.h"')
n0 = src.count('extern __shared__')
src = src.replace('extern __shared__ __align__(16) unsigned char smem_raw[];', 'unsigned char* smem_raw = emu::g_dyn_smem;')
assert src.count('extern __shared__') == 0 and n0 > 0
pat = re.compile(r'([\w:]+(?:<[^<>;]*>)?)<<<(.*?)>>>\((.*?)\);', re.S)
def rep(m):
    cfg = [x.strip() for x in m.group(2).split(',')]
    while len(cfg) < 3: cfg.append('0')
    return 'emu::launch(dim3(%s), dim3(%s), (size_t)(%s), [&] { %s(%s); });' % (cfg[0], cfg[1], cfg[2], m.group(1), m.group(3))
src, k = pat.subn(rep, src)
print('launches rewritten:', k)
open(out + '/attention_emulated.cpp', 'w').write(src)
