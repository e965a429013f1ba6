#!/usr/bin/env python3
"""PyTorch baselines for the jalign CUDA benchmarks, on the same shapes, and the jalign/PyTorch ratios.

Shape legend: B = batch, T = time, NH = heads, HS = head size, V = vocab, N = B*T rows.

Measures (CUDA events, L2 flushed by writing 256 MB before each repeat, warm-ups, median of repeats):
  * torch.nn.functional.scaled_dot_product_attention(is_causal=True), bf16 (and fp32) forward and
    forward+backward, at (B,NH,T,HS) = (4,16,1024,64), (2,16,4096,128), (1,32,8192,128), and grouped-query
    (B,NH,NKV,T,HS) = (2,32,8,2048,128) (enable_gqa) beside its multi-head twin (2,32,2048,128);
    FLOPs: forward 4*B*T^2*NH*HS/2, backward 2.5x forward;
  * sort-based top-k/top-p sampling (sort + cumsum + multinomial) at (B,V) = (64,50304), (256,128256);
  * the PPO policy loss in eager PyTorch (log_softmax, gather, ratio, clipped surrogate with dual clip,
    entropy, k3 KL, masked means, backward) at (B,T,V) = (8,512,50304), with peak memory
    (torch.cuda.max_memory_allocated).
Then reads the JSON written by bench_kernels (--ours) and prints a Markdown table of jalign/PyTorch
throughput ratios (> 1: jalign faster) and memory ratios (< 1: jalign smaller). Writes its own figures
and the table as JSON (--json) and Markdown (--md).

Runs offline (nothing is downloaded). Run with PYTHONUNBUFFERED=1 to stream the output.
"""
import argparse
import json
import os
import sys
import time

# (B, NH, T, HS[, NKV]): multi-head, then grouped-query (32 query heads over 8 kv heads) and its multi-head twin
ATTN_SHAPES = [(4, 16, 1024, 64), (2, 16, 4096, 128), (1, 32, 8192, 128), (2, 32, 2048, 128, 8), (2, 32, 2048, 128)]
SAMPLING_SHAPES = [(64, 50304), (256, 128256)]
PPO_SHAPE = (8, 512, 50304)


def log(*a):
    print(*a, flush=True)


class Timer:
    def __init__(self, torch, reps, warmup):
        self.torch = torch
        self.reps = reps
        self.warmup = warmup
        self.flush = torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device="cuda")

    def median_ms(self, fn, prep=None):
        torch = self.torch
        for _ in range(self.warmup):
            if prep:
                prep()
            fn()
        torch.cuda.synchronize()
        times = []
        for i in range(self.reps):
            if prep:
                prep()
            self.flush.fill_(i & 0xFF)
            a = torch.cuda.Event(enable_timing=True)
            b = torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b))
        times.sort()
        return times[len(times) // 2]


def bench_attention(torch, tm, B, NH, T, HS, dtype, NKV=None):
    # NKV < NH: grouped-query attention (SDPA's enable_gqa), k and v (B, NKV, T, HS)
    F = torch.nn.functional
    NKV = NKV or NH
    g = torch.Generator(device="cuda").manual_seed(0)
    shape = (B, NH, T, HS)
    q = torch.randn(shape, device="cuda", dtype=dtype, generator=g)
    k = torch.randn((B, NKV, T, HS), device="cuda", dtype=dtype, generator=g)
    v = torch.randn((B, NKV, T, HS), device="cuda", dtype=dtype, generator=g)
    dout = torch.randn(shape, device="cuda", dtype=dtype, generator=g)
    fwd_flops = 4.0 * B * T * T * NH * HS / 2.0
    prec = "bf16" if dtype == torch.bfloat16 else "fp32"
    gqa = dict(enable_gqa=True) if NKV != NH else {}
    extra = dict(NKV=NKV) if NKV != NH else {}
    res = []

    def fwd():
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=True, **gqa)

    ms_f = tm.median_ms(fwd)
    res.append(dict(name="attn_fwd_" + prec, B=B, NH=NH, T=T, HS=HS, ms=ms_f,
                    tflops=fwd_flops / (ms_f * 1e-3) / 1e12, **extra))
    qg, kg, vg = (x.detach().clone().requires_grad_(True) for x in (q, k, v))

    def prep():
        qg.grad = kg.grad = vg.grad = None

    def fwdbwd():
        out = F.scaled_dot_product_attention(qg, kg, vg, is_causal=True, **gqa)
        out.backward(dout)

    ms_fb = tm.median_ms(fwdbwd, prep)
    res.append(dict(name="attn_fwdbwd_" + prec, B=B, NH=NH, T=T, HS=HS, ms=ms_fb, **extra,
                    tflops=3.5 * fwd_flops / (ms_fb * 1e-3) / 1e12,
                    bwd_ms=ms_fb - ms_f, bwd_tflops=2.5 * fwd_flops / ((ms_fb - ms_f) * 1e-3) / 1e12))
    del q, k, v, dout, qg, kg, vg
    torch.cuda.empty_cache()
    return res


def sample_top_k_top_p(torch, logits, temperature, top_k, top_p, gen):
    """Sort-based sampler: softmax, descending sort, cumsum, keep the smallest prefix with mass >= top_p."""
    probs = torch.softmax(logits / temperature, dim=-1)
    sp, si = torch.sort(probs, dim=-1, descending=True)
    if top_k > 0:
        sp[:, top_k:] = 0.0
    cum = torch.cumsum(sp, dim=-1)
    sp = torch.where(cum - sp > top_p, torch.zeros_like(sp), sp)
    sp = sp / sp.sum(dim=-1, keepdim=True)
    pick = torch.multinomial(sp, 1, generator=gen)
    return si.gather(-1, pick).squeeze(-1)


def bench_sampling(torch, tm, B, V):
    gen = torch.Generator(device="cuda").manual_seed(1)
    logits = 2.0 * torch.randn(B, V, device="cuda", dtype=torch.float32, generator=gen)
    ms = tm.median_ms(lambda: sample_top_k_top_p(torch, logits, 1.0, 0, 0.9, gen))
    return [dict(name="sample_top_p", B=B, V=V, top_p=0.9, ms=ms, gbps=B * V * 4 / (ms * 1e-3) / 1e9)]


def ppo_loss(torch, logits, tokens, old_logp, adv, ref_logp, mask, clip_eps=0.2, dual_clip=3.0,
             entropy_coef=0.01, kl_coef=0.05):
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    ratio = torch.exp(logp - old_logp)
    pg = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps))
    pg = torch.where(adv < 0, torch.minimum(pg, -adv * dual_clip), pg)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    d = ref_logp - logp
    kl = torch.exp(d) - 1.0 - d  # k3 estimator
    denom = mask.sum()
    return (mask * (pg - entropy_coef * entropy + kl_coef * kl)).sum() / denom


def bench_ppo(torch, tm, B, T, V):
    N = B * T
    gen = torch.Generator(device="cuda").manual_seed(2)
    logits0 = 2.0 * torch.randn(N, V, device="cuda", dtype=torch.float32, generator=gen)
    tokens = torch.randint(0, V, (N,), device="cuda", generator=gen)
    old_logp = -8.0 - 4.0 * torch.rand(N, device="cuda", generator=gen)
    ref_logp = -8.0 - 4.0 * torch.rand(N, device="cuda", generator=gen)
    adv = torch.randn(N, device="cuda", generator=gen)
    mask = ((torch.arange(N, device="cuda") % T) < (T * 7) // 8).float()
    logits = logits0.requires_grad_(True)

    def prep():
        logits.grad = None

    def step():
        loss = ppo_loss(torch, logits, tokens, old_logp, adv, ref_logp, mask)
        loss.backward()

    ms = tm.median_ms(step, prep)
    prep()
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    # peak counts every live tensor (logits, inputs, the flush buffer); scratch = above what was live before
    flush_bytes = tm.flush.numel()
    res = dict(name="ppo_loss", B=B, T=T, V=V, ms=ms, gbps=2.0 * N * V * 4 / (ms * 1e-3) / 1e9,
               peak_bytes=peak - flush_bytes, scratch_bytes=peak - base)
    del logits, logits0
    torch.cuda.empty_cache()
    return [res]


def key(r):
    # variants of our kernels ("attn_fwd_bf16_tile64") compare with the same PyTorch figure
    shape = tuple((k, r[k]) for k in ("B", "NH", "NKV", "T", "HS", "V") if k in r)
    return (r["name"].split("_tile")[0], shape)


def shape_str(r):
    return ",".join(f"{k}={r[k]}" for k in ("B", "NH", "NKV", "T", "HS", "V") if k in r)


def ratio_table(ours, theirs):
    rows = []
    by_key = {key(r): r for r in theirs}
    for o in ours:
        if "ms" not in o:
            rows.append(dict(name=o["name"], shape=shape_str(o), note=o.get("error", "no timing")))
            continue
        t = by_key.get(key(o))
        if t is None:
            continue
        row = dict(name=o["name"], shape=shape_str(o), ours_ms=o["ms"], torch_ms=t["ms"],
                   speed_ratio=t["ms"] / o["ms"] if o["ms"] > 0 else float("nan"))
        if "tflops" in o and "tflops" in t:
            row["ours_tflops"] = o["tflops"]
            row["torch_tflops"] = t["tflops"]
        if "peak_bytes" in o and "peak_bytes" in t and t["peak_bytes"] > 0:
            row["ours_peak_mb"] = o["peak_bytes"] / 2**20
            row["torch_peak_mb"] = t["peak_bytes"] / 2**20
            row["mem_ratio"] = o["peak_bytes"] / t["peak_bytes"]
        rows.append(row)
    return rows


def markdown(rows):
    def f(x, fmt):
        return "" if x is None else fmt.format(x)

    lines = ["| figure | shape | jalign ms | PyTorch ms | jalign/PyTorch speed | jalign TFLOP/s | "
             "PyTorch TFLOP/s | jalign peak MB | PyTorch peak MB | memory ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "note" in r:
            lines.append(f"| {r['name']} | {r['shape']} | {r['note']} |  |  |  |  |  |  |  |")
            continue
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            r["name"], r["shape"], f(r.get("ours_ms"), "{:.3f}"), f(r.get("torch_ms"), "{:.3f}"),
            f(r.get("speed_ratio"), "{:.2f}x"), f(r.get("ours_tflops"), "{:.1f}"),
            f(r.get("torch_tflops"), "{:.1f}"), f(r.get("ours_peak_mb"), "{:.0f}"),
            f(r.get("torch_peak_mb"), "{:.0f}"), f(r.get("mem_ratio"), "{:.2f}")))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", default="gpu-out/bench_kernels.json", help="JSON written by bench_kernels")
    ap.add_argument("--json", default="gpu-out/torch_compare.json", help="where to write this script's JSON")
    ap.add_argument("--md", default=None, help="where to write the Markdown table (default: next to --json)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--no-fp32", action="store_true", help="skip the fp32 SDPA figures")
    args = ap.parse_args()
    md_path = args.md or os.path.splitext(args.json)[0] + ".md"
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)

    out = dict(torch=None, device=None, results=[], errors=[])
    try:
        import torch
    except Exception as e:  # no PyTorch: still print what we have
        log(f"torch_compare: PyTorch not importable ({e})")
        out["errors"].append(f"import torch: {e}")
        torch = None
    if torch is not None and not torch.cuda.is_available():
        log("torch_compare: PyTorch has no CUDA device")
        out["errors"].append("no CUDA device")
        torch = None

    if torch is not None:
        out["torch"] = torch.__version__
        out["device"] = torch.cuda.get_device_name(0)
        log(f"PyTorch {torch.__version__}, CUDA {torch.version.cuda}, device {out['device']}")
        tm = Timer(torch, args.reps, args.warmup)
        jobs = []
        for s in ATTN_SHAPES:
            jobs.append((f"sdpa bf16 {s}", lambda s=s: bench_attention(torch, tm, *s[:4], torch.bfloat16, *s[4:])))
        if not args.no_fp32:
            for s in ATTN_SHAPES:
                jobs.append((f"sdpa fp32 {s}", lambda s=s: bench_attention(torch, tm, *s[:4], torch.float32, *s[4:])))
        for s in SAMPLING_SHAPES:
            jobs.append((f"sampling {s}", lambda s=s: bench_sampling(torch, tm, *s)))
        jobs.append((f"ppo {PPO_SHAPE}", lambda: bench_ppo(torch, tm, *PPO_SHAPE)))
        for label, job in jobs:
            t0 = time.time()
            try:
                for r in job():
                    out["results"].append(r)
                    log("TORCH name={} {}".format(r["name"], " ".join(
                        f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in r.items() if k != "name")))
            except Exception as e:
                log(f"torch_compare: {label} failed: {type(e).__name__}: {e}")
                out["errors"].append(f"{label}: {type(e).__name__}: {e}")
                torch.cuda.empty_cache()
            log(f"  ({label}: {time.time() - t0:.1f} s)")

    ours = []
    if os.path.exists(args.ours):
        with open(args.ours) as fp:
            ours = json.load(fp).get("results", [])
    else:
        log(f"torch_compare: {args.ours} not found; no ratios")
        out["errors"].append(f"missing {args.ours}")
    rows = ratio_table(ours, out["results"])
    out["comparison"] = rows
    table = markdown(rows)
    log("\n" + table + "\n")
    with open(args.json, "w") as fp:
        json.dump(out, fp, indent=2)
    with open(md_path, "w") as fp:
        fp.write(table + "\n")
    log(f"wrote {args.json} and {md_path}")
    return 0 if not out["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
