// Tiled flash-attention engine (forward, FlashAttention-2 backward), written once over a SIMD traits type S
// and compiled once per instruction set: attention_avx2.cpp and attention_avx512.cpp include this file inside
// their own namespace after defining S. Do not include it anywhere else.
//
// Shape legend: B = batch, T = time, NH = query heads, NKV = key/value heads, G = NH/NKV query heads per kv
// head, HS = head size; Br = query rows per tile (QV vectors of S::W lanes), Bc = key rows per tile (= Br).
//
// Layout of a tile: queries run along the SIMD lanes. With Q^T packed as (HS, Br) and K rows read in place (or
// from a contiguous copy of the tile, where a tile is read many times),
//   S^T (Bc, Br) = K Q^T                 (kernel "rows x packed": broadcast K[j,d], vector over queries)
// the online softmax then works lane-wise (one running max / sum per query lane), and
//   O^T (HS, Br) += V^T P^T              (broadcast V[j,d], vector over queries).
// The backward uses the same two shapes plus
//   dV (Bc, HS) += P^T dO,  dK (Bc, HS) += dS^T Q   (broadcast P^T[j,i], vector over d).
// All three are one register-blocked micro-kernel: acc[r][c] += a(r,k) * b(k)[c] over a reduction index k.
// No T x T buffer exists: per thread there are a few Br x Bc / HS x Br tiles (and, in the backward, Q^T / dO^T
// and contiguous Q / dO rows packed once per head, O(T*HS)).
// Parallel split: forward over (b, h, query tile), largest first; backward over (b, kv head) when there are at
// least 4 kv heads per core slot (each thread owns its kv head's dK/dV and, one query head of the group after
// the other, that head's dQ; the kv head's K/V rows are packed once for the whole group), else over the key tiles
// of one query head at a time with per-slot dQ partials (slot = key tile mod core count) summed in slot order
// afterwards, so the bits never depend on the thread count. dK/dV rows of a key tile are only ever written by its
// owner, and the query heads of a group add to them in head order.

constexpr int QV = 4;                 // query vectors per tile
constexpr int Br = QV * S::W;         // query rows per tile
constexpr int Bc = Br;                // key rows per tile
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr float kNegBig = -1e30f;     // initial running max (finite, so empty rows never produce NaN)

constexpr int rb_for(int cv) { return S::ACC_REGS / cv < 12 ? S::ACC_REGS / cv : 12; }

// acc[r][c] (at C + r*c_rs + c*W) (+)= sum_k a(r,k) * b(k)[c], with a(r,k) = A[r*a_rs + k*a_ks] (a scalar
// broadcast) and b(k)[c] = Bm[k*b_ks + c*W] (a vector). KC: compile-time reduction length (0 = use K).
template <int RB, int CV, bool ACC, int KC>
static inline __attribute__((always_inline)) void mk(float* C, int64_t c_rs, const float* A, int64_t a_rs,
                                                     int64_t a_ks, const float* Bm, int64_t b_ks, int64_t K) {
  typename S::V acc[RB][CV];
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < CV; ++c) acc[r][c] = ACC ? S::load(C + r * c_rs + c * S::W) : S::zero();
  const int64_t KK = KC ? KC : K;
  for (int64_t k = 0; k < KK; ++k) {
    typename S::V bv[CV];
    for (int c = 0; c < CV; ++c) bv[c] = S::load(Bm + k * b_ks + c * S::W);
    for (int r = 0; r < RB; ++r) {
      const typename S::V av = S::set1(A[r * a_rs + k * a_ks]);
      for (int c = 0; c < CV; ++c) acc[r][c] = S::fma(av, bv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < CV; ++c) S::store(C + r * c_rs + c * S::W, acc[r][c]);
}

template <int R, int CV, bool ACC, int KC>
struct MkTail {
  static inline void run(int64_t rem, float* C, int64_t c_rs, const float* A, int64_t a_rs, int64_t a_ks,
                         const float* Bm, int64_t b_ks, int64_t K) {
    if (rem == R)
      mk<R, CV, ACC, KC>(C, c_rs, A, a_rs, a_ks, Bm, b_ks, K);
    else
      MkTail<R - 1, CV, ACC, KC>::run(rem, C, c_rs, A, a_rs, a_ks, Bm, b_ks, K);
  }
};
template <int CV, bool ACC, int KC>
struct MkTail<0, CV, ACC, KC> {
  static inline void run(int64_t, float*, int64_t, const float*, int64_t, int64_t, const float*, int64_t,
                         int64_t) {}
};

// The micro-kernel over nrows rows (blocks of RB, then one smaller block).
template <int CV, bool ACC, int KC>
static void mk_rows(float* C, int64_t c_rs, const float* A, int64_t a_rs, int64_t a_ks, const float* Bm,
                    int64_t b_ks, int64_t K, int64_t nrows) {
  constexpr int RB = rb_for(CV);
  int64_t r = 0;
  for (; r + RB <= nrows; r += RB) mk<RB, CV, ACC, KC>(C + r * c_rs, c_rs, A + r * a_rs, a_rs, a_ks, Bm, b_ks, K);
  if (r < nrows) MkTail<RB - 1, CV, ACC, KC>::run(nrows - r, C + r * c_rs, c_rs, A + r * a_rs, a_rs, a_ks, Bm, b_ks, K);
}

// ST (nk, Br) = A (nk rows of HS, row stride lda) . BT (HS, Br packed).   [S^T = K Q^T, dP^T = V dO^T]
template <int HSC>
static inline void tile_rows_x_packed(float* ST, const float* A, int64_t lda, const float* BT, int64_t HS,
                                      int64_t nk) {
  mk_rows<QV, false, HSC>(ST, Br, A, lda, 1, BT, Br, HS, nk);
}

// AccT (HS, Br) += A^T (HS x nk; A has nk rows of HS, row stride lda) . PT (nk, Br).  [O^T += V^T P^T, dQ^T += K^T dS^T]
static inline void tile_acc_transposed(float* AccT, const float* A, int64_t lda, const float* PT, int64_t HS,
                                       int64_t nk) {
  mk_rows<QV, true, 0>(AccT, Br, A, 1, lda, PT, Br, nk, HS);
}

// Acc (nk, HS) += PT (nk rows, first nq lanes) . R (nq rows of HS, row stride ldr).   [dV += P^T dO, dK += dS^T Q]
template <int HSC>
static inline void tile_acc_rows(float* Acc, const float* PT, const float* R, int64_t ldr, int64_t HS, int64_t nq,
                                 int64_t nk) {
  const int64_t HSv = HSC ? HSC : HS;
  int64_t nv = HSv / S::W, d0 = 0;
  for (; nv >= 4; nv -= 4, d0 += 4 * S::W) mk_rows<4, true, 0>(Acc + d0, HSv, PT, Br, 1, R + d0, ldr, nq, nk);
  switch (nv) {
    case 3: mk_rows<3, true, 0>(Acc + d0, HSv, PT, Br, 1, R + d0, ldr, nq, nk); break;
    case 2: mk_rows<2, true, 0>(Acc + d0, HSv, PT, Br, 1, R + d0, ldr, nq, nk); break;
    case 1: mk_rows<1, true, 0>(Acc + d0, HSv, PT, Br, 1, R + d0, ldr, nq, nk); break;
    default: break;
  }
}

// Causal mask on a score tile: ST[r][i] = -inf where key position kpos0 + r > query position qpos0 + i.
static inline void mask_tile(float* ST, int64_t nk, int64_t kpos0, int64_t qpos0) {
  typename S::V qp[QV];
  for (int c = 0; c < QV; ++c) qp[c] = S::add(S::set1((float)(qpos0 + c * S::W)), S::iota());
  const typename S::V ninf = S::set1(-INFINITY);
  for (int64_t r = 0; r < nk; ++r) {
    const typename S::V kp = S::set1((float)(kpos0 + r));
    for (int c = 0; c < QV; ++c) {
      float* p = ST + r * Br + c * S::W;
      S::store(p, S::select_gt(kp, qp[c], S::load(p), ninf));
    }
  }
}

// 64-byte aligned scratch owned by one thread.
struct Scratch {
  float* p = nullptr;
  explicit Scratch(int64_t n) {
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p) throw std::bad_alloc();
  }
  ~Scratch() { std::free(p); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

static inline int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

// dst (n, HS) contiguous = n rows of src (row stride lds). Tiles read many times are packed like this: rows of a
// (B,T,C) tensor are C floats apart, and a tile's rows read with that stride fall into a few L1 sets.
static inline void copy_rows(float* dst, const float* src, int64_t lds, int64_t n, int64_t HS) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t d = 0; d < HS; d += S::W) S::store(dst + r * HS + d, S::load(src + r * lds + d));
}

// dst (HS, Br) = mul * transpose of nq rows of src (row stride lds); lanes nq..Br-1 are zeroed.
static void pack_transposed(float* dst, const float* src, int64_t lds, int64_t nq, int64_t HS, float mul) {
  int64_t i0 = 0;
  for (; i0 + S::W <= nq; i0 += S::W)
    for (int64_t d0 = 0; d0 < HS; d0 += S::W) S::transpose(src + i0 * lds + d0, lds, dst + d0 * Br + i0, Br);
  for (int64_t i = i0; i < nq; ++i)
    for (int64_t d = 0; d < HS; ++d) dst[d * Br + i] = src[i * lds + d];
  for (int64_t d = 0; d < HS; ++d)
    for (int64_t i = nq; i < Br; ++i) dst[d * Br + i] = 0.f;
  if (mul != 1.f) {
    const typename S::V m = S::set1(mul);
    for (int64_t x = 0; x < HS * Br; x += S::W) S::store(dst + x, S::mul(S::load(dst + x), m));
  }
}

// nq rows of dst (row stride ldd) (+)= transpose of src (HS, Br).
template <bool ACC>
static void unpack_transposed(float* dst, int64_t ldd, const float* src, int64_t nq, int64_t HS, float* tmp) {
  int64_t i0 = 0;
  for (; i0 + S::W <= nq; i0 += S::W)
    for (int64_t d0 = 0; d0 < HS; d0 += S::W) {
      if (!ACC) {
        S::transpose(src + d0 * Br + i0, Br, dst + i0 * ldd + d0, ldd);
      } else {
        S::transpose(src + d0 * Br + i0, Br, tmp, S::W);
        for (int r = 0; r < S::W; ++r) {
          float* o = dst + (i0 + r) * ldd + d0;
          S::store(o, S::add(S::load(o), S::load(tmp + r * S::W)));
        }
      }
    }
  for (int64_t i = i0; i < nq; ++i)
    for (int64_t d = 0; d < HS; ++d) {
      if (ACC)
        dst[i * ldd + d] += src[d * Br + i];
      else
        dst[i * ldd + d] = src[d * Br + i];
    }
}

// ------------------------------------------------------------------------------------------------ forward

struct FwdTask {
  int64_t b, h, t0, cost;
};

template <int HSC>
static void forward_impl(const FwdProblem& p) {
  const int64_t HS = HSC ? HSC : p.HS;
  const int64_t B = p.B, Tq = p.Tq, NH = p.NH;
  const float c = p.scale * kLog2e;

  // Rows outside the valid query range: out = 0, lse = 0.
  for (int64_t b = 0; b < B; ++b) {
    const int64_t qs = p.q_start ? clamp64(p.q_start[b], 0, Tq) : 0;
    const int64_t qe = p.q_end ? clamp64(p.q_end[b], 0, Tq) : Tq;
    for (int64_t t = 0; t < Tq; ++t) {
      if (t >= qs && t < qe) continue;
      for (int64_t h = 0; h < NH; ++h) {
        float* o = p.out + b * Tq * p.ldo + t * p.ldo + h * HS;
        for (int64_t d = 0; d < HS; ++d) o[d] = 0.f;
        if (p.lse) p.lse[(b * NH + h) * Tq + t] = 0.f;
      }
    }
  }

  std::vector<FwdTask> tasks;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t qs = p.q_start ? clamp64(p.q_start[b], 0, Tq) : 0;
    const int64_t qe = p.q_end ? clamp64(p.q_end[b], 0, Tq) : Tq;
    const int64_t ks = p.k_start ? clamp64(p.k_start[b], 0, p.ke_max) : 0;
    const int64_t ke = p.k_end ? clamp64(p.k_end[b], 0, p.ke_max) : p.ke_max;
    for (int64_t t0 = qs; t0 < qe; t0 += Br) {
      const int64_t nq = std::min<int64_t>(Br, qe - t0);
      const int64_t kend = std::min(ke, p.pos + t0 + nq);
      const int64_t cost = std::max<int64_t>(kend - ks, 0) + 1;
      for (int64_t h = 0; h < NH; ++h) tasks.push_back({b, h, t0, cost});
    }
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const FwdTask& x, const FwdTask& y) { return x.cost > y.cost; });
  const int64_t ntasks = (int64_t)tasks.size();

#pragma omp parallel if (ntasks > 1)
  {
    Scratch QT(HS * Br), ST(Bc * Br), OT(HS * Br), Vt(Bc * HS), fin(2 * Br);
#pragma omp for schedule(dynamic, 1)
    for (int64_t ti = 0; ti < ntasks; ++ti) {
      const int64_t b = tasks[ti].b, h = tasks[ti].h, t0 = tasks[ti].t0;
      const int64_t qe = p.q_end ? clamp64(p.q_end[b], 0, Tq) : Tq;
      const int64_t ks = p.k_start ? clamp64(p.k_start[b], 0, p.ke_max) : 0;
      const int64_t ke = p.k_end ? clamp64(p.k_end[b], 0, p.ke_max) : p.ke_max;
      const int64_t nq = std::min<int64_t>(Br, qe - t0);
      const int64_t kend = std::min(ke, p.pos + t0 + nq);
      const int64_t kvh = h / (NH / p.NKV);
      const float* qb = p.q + b * p.q_bs + h * HS;
      const float* kb = p.k + b * p.kv_bs + kvh * HS;
      const float* vb = p.v + b * p.kv_bs + kvh * HS;

      // Q^T (HS, Br), pre-scaled so that scores come out in log2 units.
      pack_transposed(QT.p, qb + t0 * p.ldq, p.ldq, nq, HS, c);
      for (int64_t x = 0; x < HS * Br; x += S::W) S::store(OT.p + x, S::zero());

      typename S::V m[QV], l[QV];
      for (int cv = 0; cv < QV; ++cv) {
        m[cv] = S::set1(kNegBig);
        l[cv] = S::zero();
      }
      for (int64_t j0 = ks; j0 < kend; j0 += Bc) {
        const int64_t nk = std::min<int64_t>(Bc, kend - j0);
        tile_rows_x_packed<HSC>(ST.p, kb + j0 * p.ldkv, p.ldkv, QT.p, HS, nk);
        if (j0 + nk - 1 > p.pos + t0) mask_tile(ST.p, nk, j0, p.pos + t0);
        typename S::V mx[QV], alpha[QV], ls[QV];
        for (int cv = 0; cv < QV; ++cv) mx[cv] = S::set1(-INFINITY);
        for (int64_t r = 0; r < nk; ++r)
          for (int cv = 0; cv < QV; ++cv) mx[cv] = S::max(mx[cv], S::load(ST.p + r * Br + cv * S::W));
        for (int cv = 0; cv < QV; ++cv) {
          const typename S::V mn = S::max(m[cv], mx[cv]);
          alpha[cv] = S::exp2(S::sub(m[cv], mn));
          m[cv] = mn;
          ls[cv] = S::zero();
        }
        for (int64_t r = 0; r < nk; ++r)
          for (int cv = 0; cv < QV; ++cv) {
            float* ptr = ST.p + r * Br + cv * S::W;
            const typename S::V e = S::exp2(S::sub(S::load(ptr), m[cv]));
            S::store(ptr, e);
            ls[cv] = S::add(ls[cv], e);
          }
        for (int cv = 0; cv < QV; ++cv) l[cv] = S::fma(l[cv], alpha[cv], ls[cv]);
        for (int64_t d = 0; d < HS; ++d)
          for (int cv = 0; cv < QV; ++cv) {
            float* ptr = OT.p + d * Br + cv * S::W;
            S::store(ptr, S::mul(S::load(ptr), alpha[cv]));
          }
        copy_rows(Vt.p, vb + j0 * p.ldkv, p.ldkv, nk, HS);
        tile_acc_transposed(OT.p, Vt.p, HS, ST.p, HS, nk);
      }

      float* mf = fin.p;
      float* lf = fin.p + Br;
      for (int cv = 0; cv < QV; ++cv) {
        S::store(mf + cv * S::W, m[cv]);
        S::store(lf + cv * S::W, l[cv]);
      }
      for (int64_t i = 0; i < Br; ++i) {
        const float li = lf[i];
        if (i < nq && p.lse) p.lse[(b * NH + h) * Tq + t0 + i] = li > 0.f ? (mf[i] + std::log2(li)) * kLn2 : 0.f;
        lf[i] = li > 0.f ? 1.f / li : 0.f;
      }
      for (int cv = 0; cv < QV; ++cv) {
        const typename S::V inv = S::load(lf + cv * S::W);
        for (int64_t d = 0; d < HS; ++d) {
          float* ptr = OT.p + d * Br + cv * S::W;
          S::store(ptr, S::mul(S::load(ptr), inv));
        }
      }
      unpack_transposed<false>(p.out + b * Tq * p.ldo + t0 * p.ldo + h * HS, p.ldo, OT.p, nq, HS, nullptr);
    }
  }
}

// ------------------------------------------------------------------------------------------------ backward

// Per-head packed inputs: Q^T and dO^T per query tile (HS, Br), lse in log2 units and D = rowsum(dO*O) per lane.
struct HeadPack {
  float* QT;    // (nqt, HS, Br), scaled by scale*log2(e)
  float* dOT;   // (nqt, HS, Br)
  float* lse2;  // (nqt, Br); +inf in lanes past the valid rows (P = 0 there)
  float* D;     // (nqt, Br)
  float* Qr;    // (nqt, Br, HS) the query rows, contiguous
  float* dOr;   // (nqt, Br, HS) the dout rows, contiguous
};

// Carves a HeadPack out of one buffer of 4*head_elems + 2*nqt*Br floats (head_elems = nqt*HS*Br).
static HeadPack head_pack(float* base, int64_t head_elems, int64_t nqt) {
  return HeadPack{base, base + head_elems, base + 2 * head_elems, base + 2 * head_elems + nqt * Br,
                  base + 2 * head_elems + 2 * nqt * Br, base + 3 * head_elems + 2 * nqt * Br};
}

static void pack_query_tile(const BwdProblem& p, const HeadPack& hp, int64_t HS, int64_t b, int64_t h, int64_t s,
                            int64_t e, int64_t qt) {
  const float c = p.scale * kLog2e;
  const int64_t t0 = s + qt * Br, nq = std::min<int64_t>(Br, e - t0);
  float* QT = hp.QT + qt * HS * Br;
  float* dOT = hp.dOT + qt * HS * Br;
  float* lse2 = hp.lse2 + qt * Br;
  float* D = hp.D + qt * Br;
  const float* qb = p.q + b * p.T * p.ld + h * HS;
  const float* ob = p.out + b * p.T * p.ldo + h * HS;
  const float* gb = p.dout + b * p.T * p.ldo + h * HS;
  pack_transposed(QT, qb + t0 * p.ld, p.ld, nq, HS, c);
  pack_transposed(dOT, gb + t0 * p.ldo, p.ldo, nq, HS, 1.f);
  copy_rows(hp.Qr + qt * Br * HS, qb + t0 * p.ld, p.ld, nq, HS);
  copy_rows(hp.dOr + qt * Br * HS, gb + t0 * p.ldo, p.ldo, nq, HS);
  for (int64_t i = 0; i < nq; ++i) {
    const float* orow = ob + (t0 + i) * p.ldo;
    const float* gr = gb + (t0 + i) * p.ldo;
    typename S::V acc = S::zero();
    for (int64_t d = 0; d < HS; d += S::W) acc = S::fma(S::load(gr + d), S::load(orow + d), acc);
    D[i] = S::hsum(acc);
    lse2[i] = p.lse[(b * p.NH + h) * p.T + t0 + i] * kLog2e;
  }
  for (int64_t i = nq; i < Br; ++i) {
    D[i] = 0.f;
    lse2[i] = INFINITY;
  }
}

// All query tiles of the packed head hp against key tile kt: dKa, dVa (nk, HS) accumulate the tile's dK (without
// the softmax scale) and dV; dQ^T contributions are added to dQT (nqt, HS, Br). Kt, Vt: the tile's key and value
// rows, contiguous (nk, HS).
template <int HSC>
static void key_tile_grads(const BwdProblem& p, const HeadPack& hp, int64_t s, int64_t e, int64_t kt, float* dQT,
                           float* ST, float* DPT, float* dKa, float* dVa, const float* Kt, const float* Vt) {
  const int64_t HS = HSC ? HSC : p.HS;
  const int64_t nqt = (e - s + Br - 1) / Br;
  const int64_t j0 = s + kt * Bc, nk = std::min<int64_t>(Bc, e - j0);

  for (int64_t qt = kt; qt < nqt; ++qt) {
    const int64_t t0 = s + qt * Br, nq = std::min<int64_t>(Br, e - t0);
    const float* QT = hp.QT + qt * HS * Br;
    const float* dOT = hp.dOT + qt * HS * Br;
    typename S::V lse2[QV], Dv[QV];
    for (int cv = 0; cv < QV; ++cv) {
      lse2[cv] = S::load(hp.lse2 + qt * Br + cv * S::W);
      Dv[cv] = S::load(hp.D + qt * Br + cv * S::W);
    }
    // P^T = exp2(S^T - lse)
    tile_rows_x_packed<HSC>(ST, Kt, HS, QT, HS, nk);
    if (j0 + nk - 1 > t0) mask_tile(ST, nk, j0, t0);
    for (int64_t r = 0; r < nk; ++r)
      for (int cv = 0; cv < QV; ++cv) {
        float* ptr = ST + r * Br + cv * S::W;
        S::store(ptr, S::exp2(S::sub(S::load(ptr), lse2[cv])));
      }
    // dV += P^T dO
    tile_acc_rows<HSC>(dVa, ST, hp.dOr + qt * Br * HS, HS, HS, nq, nk);
    // dP^T = V dO^T ; dS^T = P^T * (dP^T - D)
    tile_rows_x_packed<HSC>(DPT, Vt, HS, dOT, HS, nk);
    for (int64_t r = 0; r < nk; ++r)
      for (int cv = 0; cv < QV; ++cv) {
        float* ptr = DPT + r * Br + cv * S::W;
        S::store(ptr, S::mul(S::load(ST + r * Br + cv * S::W), S::sub(S::load(ptr), Dv[cv])));
      }
    // dK += dS^T Q ; dQ^T += K^T dS^T   (scale applied once at the end)
    tile_acc_rows<HSC>(dKa, DPT, hp.Qr + qt * Br * HS, HS, HS, nq, nk);
    tile_acc_transposed(dQT + qt * HS * Br, Kt, HS, DPT, HS, nk);
  }
}

// dk, dv rows [j0, j0 + n) of kv head (b, kvh) += scale * dKa, dVa ((n, HS) contiguous).
static void add_kv_grads(const BwdProblem& p, int64_t HS, int64_t b, int64_t kvh, int64_t j0, int64_t n,
                         const float* dKa, const float* dVa) {
  float* dkb = p.dk + b * p.T * p.ld + kvh * HS + j0 * p.ld;
  float* dvb = p.dv + b * p.T * p.ld + kvh * HS + j0 * p.ld;
  for (int64_t r = 0; r < n; ++r) {
    float* dkr = dkb + r * p.ld;
    float* dvr = dvb + r * p.ld;
    const float* ka = dKa + r * HS;
    const float* va = dVa + r * HS;
    for (int64_t d = 0; d < HS; ++d) {
      dkr[d] += p.scale * ka[d];
      dvr[d] += va[d];
    }
  }
}

// Key tile kt of query head (b, h) on its own: K/V rows copied, dK/dV of the tile added to dk, dv.
template <int HSC>
static void backward_key_tile(const BwdProblem& p, const HeadPack& hp, int64_t b, int64_t h, int64_t s, int64_t e,
                              int64_t kt, float* dQT, float* ST, float* DPT, float* dKa, float* dVa, float* Kt,
                              float* Vt) {
  const int64_t HS = HSC ? HSC : p.HS;
  const int64_t kvh = h / (p.NH / p.NKV);
  const int64_t j0 = s + kt * Bc, nk = std::min<int64_t>(Bc, e - j0);
  copy_rows(Kt, p.k + b * p.T * p.ld + kvh * HS + j0 * p.ld, p.ld, nk, HS);
  copy_rows(Vt, p.v + b * p.T * p.ld + kvh * HS + j0 * p.ld, p.ld, nk, HS);
  for (int64_t x = 0; x < nk * HS; ++x) dKa[x] = dVa[x] = 0.f;
  key_tile_grads<HSC>(p, hp, s, e, kt, dQT, ST, DPT, dKa, dVa, Kt, Vt);
  add_kv_grads(p, HS, b, kvh, j0, nk, dKa, dVa);
}

// dq rows of query tile qt += scale * sum over the npart partial dQ^T buffers (each (nqt, HS, Br), stride part).
// tmp: HS*Br + W*W floats.
static void finish_dq(const BwdProblem& p, int64_t HS, int64_t b, int64_t h, int64_t s, int64_t e, int64_t qt,
                      const float* dQT, int64_t npart, int64_t part, float* tmp) {
  const int64_t t0 = s + qt * Br, nq = std::min<int64_t>(Br, e - t0);
  const typename S::V sc = S::set1(p.scale);
  for (int64_t x = 0; x < HS * Br; x += S::W) {
    typename S::V acc = S::load(dQT + qt * HS * Br + x);
    for (int64_t t = 1; t < npart; ++t) acc = S::add(acc, S::load(dQT + t * part + qt * HS * Br + x));
    S::store(tmp + x, S::mul(acc, sc));
  }
  unpack_transposed<true>(p.dq + b * p.T * p.ld + h * HS + t0 * p.ld, p.ld, tmp, nq, HS, tmp + HS * Br);
}

template <int HSC>
static void backward_impl(const BwdProblem& p) {
  const int64_t HS = HSC ? HSC : p.HS;
  const int64_t B = p.B, T = p.T, NH = p.NH, NKV = p.NKV, G = NH / NKV;
  const int64_t nqt_max = (T + Br - 1) / Br;
  const int64_t head_elems = nqt_max * HS * Br;
  // The dQ partials are per slot (key tiles kt = slot, slot + nslots, ...), not per thread, and the path is
  // chosen by the slot count: the result is bit-identical whatever the thread count.
  const int64_t nslots = work_slots();
  auto range = [&](int64_t b, int64_t& s, int64_t& e) {
    s = p.kv_start ? clamp64(p.kv_start[b], 0, T) : 0;
    e = p.kv_end ? clamp64(p.kv_end[b], 0, T) : T;
  };

  if (B * NKV >= 4 * nslots) {
    // Many kv heads: one kv head per task; each thread owns its kv head's K/V rows (packed once for the group),
    // dK/dV accumulators, and the packed query head and dQ^T accumulator of the group's heads in turn.
    const int64_t kv_elems = nqt_max * Bc * HS;
#pragma omp parallel
    {
      Scratch packs(4 * head_elems + 2 * nqt_max * Br), dQT(head_elems), ST(Bc * Br), DPT(Bc * Br),
          Kp(kv_elems), Vp(kv_elems), dKp(kv_elems), dVp(kv_elems), tmp(HS * Br + S::W * S::W);
      const HeadPack hp = head_pack(packs.p, head_elems, nqt_max);
#pragma omp for schedule(dynamic, 1)
      for (int64_t bk = 0; bk < B * NKV; ++bk) {
        const int64_t b = bk / NKV, kvh = bk % NKV;
        int64_t s, e;
        range(b, s, e);
        if (e <= s) continue;
        const int64_t nqt = (e - s + Br - 1) / Br;
        copy_rows(Kp.p, p.k + b * T * p.ld + kvh * HS + s * p.ld, p.ld, e - s, HS);
        copy_rows(Vp.p, p.v + b * T * p.ld + kvh * HS + s * p.ld, p.ld, e - s, HS);
        for (int64_t x = 0; x < (e - s) * HS; ++x) dKp.p[x] = dVp.p[x] = 0.f;
        for (int64_t h = kvh * G; h < (kvh + 1) * G; ++h) {
          for (int64_t qt = 0; qt < nqt; ++qt) pack_query_tile(p, hp, HS, b, h, s, e, qt);
          for (int64_t x = 0; x < nqt * HS * Br; ++x) dQT.p[x] = 0.f;
          for (int64_t kt = 0; kt < nqt; ++kt) {
            const int64_t o = kt * Bc * HS;
            key_tile_grads<HSC>(p, hp, s, e, kt, dQT.p, ST.p, DPT.p, dKp.p + o, dVp.p + o, Kp.p + o, Vp.p + o);
          }
          for (int64_t qt = 0; qt < nqt; ++qt) finish_dq(p, HS, b, h, s, e, qt, dQT.p, 1, head_elems, tmp.p);
        }
        add_kv_grads(p, HS, b, kvh, s, e - s, dKp.p, dVp.p);
      }
    }
  } else {
    // Few kv heads: the threads share one query head at a time, split over key tiles, with per-slot dQ^T partials
    // summed in slot order; the heads of a kv group add their dK/dV in head order.
    Scratch packs(4 * head_elems + 2 * nqt_max * Br), parts(nslots * head_elems);
    const HeadPack hp = head_pack(packs.p, head_elems, nqt_max);
#pragma omp parallel
    {
      Scratch ST(Bc * Br), DPT(Bc * Br), dKa(Bc * HS), dVa(Bc * HS), Kt(Bc * HS), Vt(Bc * HS),
          tmp(HS * Br + S::W * S::W);
      for (int64_t bh = 0; bh < B * NH; ++bh) {
        const int64_t b = bh / NH, h = bh % NH;
        int64_t s, e;
        range(b, s, e);
        if (e <= s) continue;
        const int64_t nqt = (e - s + Br - 1) / Br;
#pragma omp for schedule(static)
        for (int64_t qt = 0; qt < nqt; ++qt) pack_query_tile(p, hp, HS, b, h, s, e, qt);
        const int64_t nused = std::min(nslots, nqt);  // slots past the last key tile would stay zero
#pragma omp for schedule(static, 1)
        for (int64_t slot = 0; slot < nused; ++slot) {
          float* mine = parts.p + slot * head_elems;
          for (int64_t x = 0; x < nqt * HS * Br; ++x) mine[x] = 0.f;
          for (int64_t kt = slot; kt < nqt; kt += nslots)
            backward_key_tile<HSC>(p, hp, b, h, s, e, kt, mine, ST.p, DPT.p, dKa.p, dVa.p, Kt.p, Vt.p);
        }
#pragma omp for schedule(static)
        for (int64_t qt = 0; qt < nqt; ++qt) finish_dq(p, HS, b, h, s, e, qt, parts.p, nused, head_elems, tmp.p);
      }
    }
  }
}

bool supported_head_size(int64_t HS) { return HS > 0 && HS % S::W == 0; }

void forward(const FwdProblem& p) {
  switch (p.HS) {
    case 32: forward_impl<32>(p); break;
    case 64: forward_impl<64>(p); break;
    case 128: forward_impl<128>(p); break;
    default: forward_impl<0>(p); break;
  }
}

void backward(const BwdProblem& p) {
  switch (p.HS) {
    case 32: backward_impl<32>(p); break;
    case 64: backward_impl<64>(p); break;
    case 128: backward_impl<128>(p); break;
    default: backward_impl<0>(p); break;
  }
}
