#!/usr/bin/env python3
"""Training-step throughput of a Hugging Face GPT-2 small (124M) in PyTorch, the baseline for
org.jalign.bench.GptTrainThroughput.

Shapes: B = batch, T = time (sequence length), L = layers, C = channels, NH = heads, V = vocab.
The model is GPT2LMHeadModel(GPT2Config(...)) with random initialisation (nothing is downloaded). One step is
zero_grad, forward with labels (cross-entropy), backward, clip_grad_norm_(1.0) and torch.optim.AdamW, the same
work as jalign's step. Modes: fp32 (TF32 matmuls off, as jalign's fp32 GEMM), tf32 (TF32 matmuls on) and bf16
(torch.autocast bfloat16, fp32 master weights). FLOPs per token = 6*N + 12*L*C*T with N the parameter count
(jalign counts the padded vocabulary 50304; this script counts N with the padded vocabulary too, so the FLOP
figures compare).

Each mode prints one machine-readable line:
  RESULT hf_gpt2_train mode=fp32 B=8 T=1024 ... ms_per_step=... tokens_per_s=... tflops=... mfu=...

--report JALIGN_LOG HF_LOG prints (without running anything or importing torch) a Markdown table of the RESULT
lines found in the two logs, with jalign's tokens/s relative to each PyTorch mode.
"""
import argparse
import json
import math
import sys
import time


def parse_results(path, tag):
    rows = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("RESULT " + tag + " "):
                    kv = dict(x.split("=", 1) for x in line.split()[2:] if "=" in x)
                    rows.append(kv)
    except OSError as e:
        print(f"cannot read {path}: {e}", file=sys.stderr)
    return rows


def report(jalign_log, hf_log):
    ours = parse_results(jalign_log, "jalign_gpt_train")
    theirs = parse_results(hf_log, "hf_gpt2_train")
    print("| run | precision | B | T | ms/step | tokens/s | TFLOP/s | MFU | jalign tokens/s ÷ this | loss first → last |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    base = float(ours[0]["tokens_per_s"]) if ours else None
    for r in ours:
        print(f"| jalign ({r.get('device')}, gemm {r.get('gemm')}) | fp32 | {r['B']} | {r['T']} | "
              f"{float(r['ms_per_step']):.1f} | {float(r['tokens_per_s']):,.0f} | {float(r['tflops']):.1f} | "
              f"{100 * float(r['mfu']):.1f}% of {float(r['peak_tflops']):.0f} | 1.00 | "
              f"{float(r['loss_first']):.3f} → {float(r['loss_last']):.3f} |")
    for r in theirs:
        ratio = f"{base / float(r['tokens_per_s']):.2f}" if base else "n/a"
        print(f"| PyTorch HF GPT2LMHeadModel | {r['mode']} | {r['B']} | {r['T']} | {float(r['ms_per_step']):.1f} | "
              f"{float(r['tokens_per_s']):,.0f} | {float(r['tflops']):.1f} | "
              f"{100 * float(r['mfu']):.1f}% of {float(r['peak_tflops']):.0f} | {ratio} | "
              f"{float(r['loss_first']):.3f} → {float(r['loss_last']):.3f} |")
    if not ours:
        print(f"\n(no jalign RESULT line in {jalign_log})")
    if not theirs:
        print(f"\n(no PyTorch RESULT line in {hf_log})")
    print("\nFLOPs per token = 6·N + 12·L·C·T, N counted with the vocabulary padded to a multiple of 64 for both.")
    return 0 if ours and theirs else 1


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--report":
        if len(sys.argv) != 4:
            print("usage: hf_gpt2_train.py --report JALIGN_LOG HF_LOG", file=sys.stderr)
            return 2
        return report(sys.argv[2], sys.argv[3])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--channels", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--modes", default="fp32,tf32,bf16", help="comma-separated: fp32, tf32, bf16")
    p.add_argument("--peak-tflops", type=float, default=0.0,
                   help="peak for MFU; default per mode: fp32 67, tf32 495, bf16 990 (H100/H200 SXM dense)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--json", help="also write all results to this JSON file")
    a = p.parse_args()

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("CUDA not available", file=sys.stderr)
        return 2
    default_peak = {"fp32": 67.0, "tf32": 495.0, "bf16": 990.0}
    B, T = a.batch, a.seq
    vp = (a.vocab + 63) // 64 * 64
    C, L = a.channels, a.layers
    # parameter count as jalign counts it (padded vocabulary), for the same FLOPs per token
    per_layer = 2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + 4 * C * C + 4 * C + 4 * C * C + C
    n_params = vp * C + T * C + L * per_layer + 2 * C
    flops_per_token = 6 * n_params + 12 * L * C * T

    g = torch.Generator().manual_seed(7)
    x = torch.randint(0, a.vocab, (B, T), generator=g).to(dev)
    results = []
    rc = 0
    for mode in [m.strip() for m in a.modes.split(",") if m.strip()]:
        if mode not in default_peak:
            print(f"unknown mode {mode}", file=sys.stderr)
            return 2
        torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        torch.backends.cudnn.allow_tf32 = mode == "tf32"
        torch.manual_seed(1)
        cfg = GPT2Config(vocab_size=a.vocab, n_positions=T, n_embd=C, n_layer=L, n_head=a.heads,
                         resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
        try:
            cfg._attn_implementation = "sdpa"
        except Exception:
            pass
        model = GPT2LMHeadModel(cfg).to(dev)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1,
                                fused=dev.type == "cuda")
        times = []
        losses = []
        for s in range(a.warmup + a.steps):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=mode == "bf16"):
                out = model(input_ids=x, labels=x)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            dt = (time.perf_counter() - t0) * 1e3
            losses.append(float(out.loss))
            if s >= a.warmup:
                times.append(dt)
            print(f"[{mode}] step {s}{' (warm-up)' if s < a.warmup else ''} loss {losses[-1]:.4f} {dt:.2f} ms",
                  flush=True)
        mean = sum(times) / len(times)
        st = sorted(times)
        med = st[len(st) // 2] if len(st) % 2 else (st[len(st) // 2 - 1] + st[len(st) // 2]) / 2
        tps = B * T / (mean * 1e-3)
        tflops = tps * flops_per_token / 1e12
        peak = a.peak_tflops if a.peak_tflops > 0 else default_peak[mode]
        mem = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else 0.0
        r = dict(mode=mode, B=B, T=T, L=L, C=C, NH=a.heads, V=a.vocab, params=n_params, steps=len(times),
                 ms_per_step=mean, ms_median=med, ms_min=st[0], tokens_per_s=tps, tflops=tflops, peak_tflops=peak,
                 mfu=tflops / peak, loss_first=losses[0], loss_last=losses[-1], max_mem_gib=mem)
        results.append(r)
        print("RESULT hf_gpt2_train " + " ".join(
            f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()), flush=True)
        if not (math.isfinite(losses[-1]) and losses[-1] < losses[0]):
            print(f"[{mode}] FAILED: loss did not fall ({losses[0]} -> {losses[-1]})")
            rc = 1
        del model, opt, out
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(torch=torch.__version__, device=str(dev),
                           gpu=torch.cuda.get_device_name() if dev.type == "cuda" else "cpu", results=results), f,
                      indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
