// Scheduler, barriers and launch of the jalign CUDA emulation (see cuda_emulation.h).
#include "cuda_emulation.h"
namespace emu {
Fiber* g_cur = nullptr;
dim3 g_block_idx, g_block_dim, g_grid_dim;
unsigned char* g_dyn_smem = nullptr;
size_t g_dyn_smem_bytes = 0, g_dyn_smem_allowed = 48 * 1024;
int g_last_error = 0;
static ucontext_t g_sched;
static std::vector<Fiber*> g_fibers;
static Barrier g_block_bar;
static std::vector<Barrier> g_warp_bar;
static std::vector<std::vector<uint64_t>> g_slots;
static const std::function<void()>* g_body;
static long g_switches = 0;

void yield() { g_switches++; swapcontext(&g_cur->ctx, &g_sched); }
static void arrive(Barrier& b) {
    const long g = b.gen;
    if (++b.count >= b.expected) { b.count = 0; b.gen++; return; }
    while (b.gen == g) yield();
}
void block_sync() { arrive(g_block_bar); }
int lane() { return (int)(g_cur->tidx.x & 31); }
void warp_sync() { arrive(g_warp_bar[g_cur->tidx.x / 32]); }
uint64_t* warp_slots(int n) {
    auto& s = g_slots[g_cur->tidx.x / 32];
    if (s.size() < (size_t)(32 * n)) s.resize(32 * n);
    return s.data();
}
static void entry() {
    (*g_body)();
    g_cur->done = true;
    // an exited thread no longer takes part in barriers
    Barrier& wb = g_warp_bar[g_cur->tidx.x / 32];
    wb.expected--;
    if (wb.count >= wb.expected && wb.count > 0) { wb.count = 0; wb.gen++; }
    g_block_bar.expected--;
    if (g_block_bar.count >= g_block_bar.expected && g_block_bar.count > 0) { g_block_bar.count = 0; g_block_bar.gen++; }
    swapcontext(&g_cur->ctx, &g_sched);
}
void launch(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
    if (smem > g_dyn_smem_allowed || block.x > 1024 || block.y != 1 || block.z != 1 || grid.y > 65535 || grid.z > 65535) {
        std::fprintf(stderr, "emu: bad launch (smem %zu allowed %zu, block %u)\n", smem, g_dyn_smem_allowed, block.x);
        g_last_error = cudaErrorInvalidValue;
        return;
    }
    g_grid_dim = grid;
    g_block_dim = block;
    g_body = &body;
    std::vector<unsigned char> dyn(smem + 16, 0xff);
    const int nt = block.x;
    std::vector<Fiber> fibers(nt);
    for (auto& f : fibers) f.stack.resize(256 * 1024);
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                g_block_idx = dim3(x, y, z);
                std::fill(dyn.begin(), dyn.end(), 0xff);
                g_dyn_smem = dyn.data();
                g_dyn_smem_bytes = smem;
                g_block_bar = Barrier{0, nt, 0};
                g_warp_bar.assign((nt + 31) / 32, Barrier{0, 32, 0});
                g_slots.assign((nt + 31) / 32, {});
                for (int t = 0; t < nt; t++) {
                    Fiber& f = fibers[t];
                    f.done = false;
                    f.tidx = dim3(t, 0, 0);
                    getcontext(&f.ctx);
                    f.ctx.uc_stack.ss_sp = f.stack.data();
                    f.ctx.uc_stack.ss_size = f.stack.size();
                    f.ctx.uc_link = nullptr;
                    makecontext(&f.ctx, (void (*)())entry, 0);
                }
                int alive = nt;
                long rounds = 0;
                while (alive > 0) {
                    alive = 0;
                    for (int t = 0; t < nt; t++) {
                        if (fibers[t].done) continue;
                        g_cur = &fibers[t];
                        swapcontext(&g_sched, &fibers[t].ctx);
                        if (!fibers[t].done) alive++;
                    }
                    if (++rounds > 50000000) { std::fprintf(stderr, "emu: deadlock?\n"); std::abort(); }
                }
            }
}
}  // namespace emu
