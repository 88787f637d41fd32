// The attention models (one attention block, and transformers): forward and backward in tiles of
// whole sequences (sequences_per_tile), each tile taken by one thread through every layer while
// its rows are in cache. Block tensors are found through m.at (ParamOffsets).
#include <cstring>

#include "model_detail.hpp"

namespace tinyfront::model_detail {

// ---------------------------------------------------------------------------------------------
// Attention models, forward: one tile of whole sequences [b0, b0 + nseq) through every layer.

// Projection, residual, LayerNorms and feed-forward of a block on `rows` rows starting at row q0
// of the block's post-attention buffers, given the residual input xres of those rows. Returns
// the block output (res2 for pre-norm, ln2 for post-norm).
template <typename S>
const S* block_forward_tail(Model<S>& m, typename Model<S>::Block& blk, int l, const BlockParams& o,
                            long q0, int rows, const S* xres, bool drop) {
  const ModelConfig& cfg = m.cfg;
  const int C = cfg.d_model, F = cfg.ff;
  const bool pre = cfg.norm == Norm::pre, gelu = cfg.activation != Activation::relu;
  const long wpr = mask_words(C);
  const S* P = m.params.data();
  const long c0 = q0 * C, f0 = q0 * F;
  S* res1 = blk.res1.data() + c0;
  // res1 = x + proj(attention): the residual is the starting value of the product
  if (drop) {
    S* proj = blk.attproj.data() + c0;
    linear_forward(proj, blk.atty.data() + c0, P + o.proj.w, P + o.proj.b, (const S*)nullptr, rows,
                   C, C);
    dropout_residual_forward(res1, xres, proj, blk.attproj_mask.data() + q0 * wpr, rows, C,
                             Dropout{cfg.dropout, m.dropout_key, attproj_stream(l), uint64_t(q0)});
  } else {
    linear_forward(res1, blk.atty.data() + c0, P + o.proj.w, P + o.proj.b, xres, rows, C, C);
  }
  // feed-forward on LN(res1): ln2 (pre-norm, residual res1) or ln1 (post-norm, residual ln1)
  S *ff_in, *ff_res;
  if (pre) {
    layernorm_forward(blk.ln2.data() + c0, blk.ln2_mean.data() + q0, blk.ln2_rstd.data() + q0, res1,
                      P + o.ln2.g, P + o.ln2.b, rows, C);
    ff_in = blk.ln2.data() + c0, ff_res = res1;
  } else {
    layernorm_forward(blk.ln1.data() + c0, blk.ln1_mean.data() + q0, blk.ln1_rstd.data() + q0, res1,
                      P + o.ln1.g, P + o.ln1.b, rows, C);
    ff_in = ff_res = blk.ln1.data() + c0;
  }
  // ReLU keeps no pre-activation: its backward needs only the sign, which the output has too
  S* act_out = blk.fcact.data() + f0;
  S* act_in = gelu ? blk.fch.data() + f0 : act_out;
  linear_forward(act_in, ff_in, P + o.fc.w, P + o.fc.b, (const S*)nullptr, rows, C, F);
  activation_forward(act_out, act_in, long(rows) * F, cfg.activation);
  S* res2 = blk.res2.data() + c0;
  if (drop) {
    S* proj = blk.fcproj.data() + c0;
    linear_forward(proj, act_out, P + o.fc2.w, P + o.fc2.b, (const S*)nullptr, rows, F, C);
    dropout_residual_forward(res2, ff_res, proj, blk.fcproj_mask.data() + q0 * wpr, rows, C,
                             Dropout{cfg.dropout, m.dropout_key, fcproj_stream(l), uint64_t(q0)});
  } else {
    linear_forward(res2, act_out, P + o.fc2.w, P + o.fc2.b, ff_res, rows, F, C);
  }
  if (pre) return res2;
  layernorm_forward(blk.ln2.data() + c0, blk.ln2_mean.data() + q0, blk.ln2_rstd.data() + q0, res2,
                    P + o.ln2.g, P + o.ln2.b, rows, C);
  return blk.ln2.data() + c0;
}

template <typename S>
void forward_tile(Model<S>& m, int b0, int nseq, bool drop, bool with_targets) {
  const ModelConfig& cfg = m.cfg;
  const int T = cfg.context, C = cfg.d_model, H = cfg.heads, V = cfg.vocab, L = cfg.blocks();
  const bool pre = cfg.norm == Norm::pre, rope = cfg.positions == Positions::rope;
  const bool paper = m.protocol == Protocol::paper;
  const long r0 = long(b0) * T, C3 = 3L * C;
  const int n = nseq * T;
  const S* P = m.params.data();

  S* emb = m.emb.data() + r0 * C;
  embedding_forward(emb, m.inputs.data() + r0, P + m.at.wte,
                    cfg.positions == Positions::learned ? P + m.at.wpe : nullptr, nseq, T, C);
  if (drop)
    dropout_forward(emb, emb, m.emb_mask.data() + r0 * mask_words(C), n, C,
                    Dropout{cfg.dropout, m.dropout_key, kEmbeddingStream, uint64_t(r0)});
  const S* x = emb;  // block input, the rows of this tile
  for (int l = 0; l < L; ++l) {
    auto& blk = m.blocks[l];
    const BlockParams& o = m.at.blocks[size_t(l)];
    const S* a_in = x;  // attention input: x, or LN(x) for pre-norm (every position)
    if (pre) {
      S* ln1 = blk.ln1.data() + r0 * C;
      layernorm_forward(ln1, blk.ln1_mean.data() + r0, blk.ln1_rstd.data() + r0, x, P + o.ln1.g,
                        P + o.ln1.b, n, C);
      a_in = ln1;
    }
    S* qkv = blk.qkv.data() + r0 * C3;
    if (!last_only(m, l)) {
      linear_forward(qkv, a_in, P + o.qkv.w, P + o.qkv.b, (const S*)nullptr, n, C, 3 * C);
      if (rope) {
        rope_forward(qkv, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
        rope_forward(qkv + C, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
      }
      attention_forward(blk.atty.data() + r0 * C, blk.att.data() + long(b0) * H * T * T,
                        m.work[size_t(omp_get_thread_num())].g_att.data(), qkv, nseq, T, C, H);
      x = block_forward_tail(m, blk, l, o, r0, n, x, drop);
    } else {
      // Keys and values of every position (columns C..3C of qkv) ...
      for (int r = 0; r < n; ++r) std::memcpy(qkv + r * C3 + C, P + o.qkv.b + C, sizeof(S) * 2 * C);
      gemm(qkv + C, C3, a_in, C, false, P + o.qkv.w + C, C3, false, n, 2 * C, C, true);
      // ... and the query of the last one only, from every T-th row of the input.
      S* ql = blk.q_last.data() + long(b0) * C;
      for (int s = 0; s < nseq; ++s) std::memcpy(ql + s * C, P + o.qkv.b, sizeof(S) * C);
      gemm(ql, C, a_in + long(T - 1) * C, long(T) * C, false, P + o.qkv.w, C3, false, nseq, C, C,
           true);
      if (rope) {
        rope_forward(qkv + C, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
        rope_forward(ql, C, nseq, 1, T - 1, C, H, m.rope_cs.data(), cfg.rope_style);
      }
      attention_last_forward(blk.atty.data() + long(b0) * C, blk.att.data() + long(b0) * H * T, ql,
                             qkv, nseq, T, C, H);
      S* xl = blk.x_last.data() + long(b0) * C;  // the residual input of those rows
      for (int s = 0; s < nseq; ++s)
        std::memcpy(xl + s * C, x + (long(s) * T + T - 1) * C, sizeof(S) * C);
      x = block_forward_tail(m, blk, l, o, b0, nseq, xl, drop);
    }
  }
  // Final LayerNorm and head on the predicted rows: every position, or one per window (paper).
  const long R0 = paper ? b0 : r0;
  const int rows = paper ? nseq : n;
  S* lnf = m.lnf.data() + R0 * C;
  layernorm_forward(lnf, m.lnf_mean.data() + R0, m.lnf_rstd.data() + R0, x, P + m.at.lnf.g,
                    P + m.at.lnf.b, rows, C);
  S* logits = m.logits.data() + R0 * V;
  linear_forward(logits, lnf, P + m.at.head.w, P + m.at.head.b, (const S*)nullptr, rows, C, V);
  if (with_targets)
    crossentropy_forward(logits, m.losses.data() + R0, logits, m.targets.data() + R0, rows, V);
}

template <typename S>
void transformer_forward(Model<S>& m, int B, bool drop, bool with_targets, Rng* rng) {
  const long T = m.cfg.context;
  if (drop) m.dropout_key = rng->next();  // one key a step; each tile draws its own rows' masks
  ensure_workspace(m);
  const int spt = sequences_per_tile(int(T)), tiles = (B + spt - 1) / spt;
  // A tile's result does not depend on which thread computes it: dynamic scheduling is safe here.
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < tiles; ++i)
    forward_tile(m, i * spt, std::min(spt, B - i * spt), drop, with_targets);
}

// ---------------------------------------------------------------------------------------------
// Attention models, backward: one tile through every layer in reverse, parameter gradients
// accumulated into G (this thread's gradient buffer).

// Inverse of block_forward_tail. On entry g holds d(block output) of the `rows` rows at q0; on
// exit g holds d res1 and w.g_b d(attention output) of those rows.
template <typename S>
void block_backward_tail(Model<S>& m, const typename Model<S>::Block& blk, const BlockParams& o,
                         long q0, int rows, S* g, S* G, typename Model<S>::Workspace& w,
                         bool drop) {
  const ModelConfig& cfg = m.cfg;
  const int C = cfg.d_model, F = cfg.ff;
  const bool pre = cfg.norm == Norm::pre, gelu = cfg.activation != Activation::relu;
  const S keep_scale = S(1.0 / (1.0 - cfg.dropout));
  const long wpr = mask_words(C);
  const S* P = m.params.data();
  const long c0 = q0 * C, f0 = q0 * F;
  S *ga = w.g_a.data(), *gb = w.g_b.data(), *gf = w.g_f.data();
  const S* act_out = blk.fcact.data() + f0;
  const S* act_in = gelu ? blk.fch.data() + f0 : act_out;
  if (!pre) {
    // ln2 = LN(res2), res2 = ln1 + drop(fc2(act(fc(ln1)))), ln1 = LN(res1)
    layernorm_backward(ga, G + o.ln2.g, G + o.ln2.b, g, blk.res2.data() + c0, P + o.ln2.g,
                       blk.ln2_mean.data() + q0, blk.ln2_rstd.data() + q0, rows, C, Grad::set);
    const S* d_fc2 = ga;  // d res2
    if (drop) {
      dropout_apply(gb, ga, blk.fcproj_mask.data() + q0 * wpr, rows, C, keep_scale);
      d_fc2 = gb;
    }
    linear_backward(gf, G + o.fc2.w, G + o.fc2.b, d_fc2, act_out, P + o.fc2.w, rows, F, C,
                    Grad::set);
    activation_backward(gf, gf, act_in, long(rows) * F, cfg.activation, Grad::set);
    // d ln1 = d res2 (the residual) + the feed-forward path
    linear_backward(ga, G + o.fc.w, G + o.fc.b, gf, blk.ln1.data() + c0, P + o.fc.w, rows, C, F,
                    Grad::add);
    layernorm_backward(g, G + o.ln1.g, G + o.ln1.b, ga, blk.res1.data() + c0, P + o.ln1.g,
                       blk.ln1_mean.data() + q0, blk.ln1_rstd.data() + q0, rows, C, Grad::set);
  } else {
    // res2 = res1 + drop(fc2(act(fc(ln2)))), ln2 = LN(res1)
    const S* d_fc2 = g;
    if (drop) {
      dropout_apply(ga, g, blk.fcproj_mask.data() + q0 * wpr, rows, C, keep_scale);
      d_fc2 = ga;
    }
    linear_backward(gf, G + o.fc2.w, G + o.fc2.b, d_fc2, act_out, P + o.fc2.w, rows, F, C,
                    Grad::set);
    activation_backward(gf, gf, act_in, long(rows) * F, cfg.activation, Grad::set);
    linear_backward(gb, G + o.fc.w, G + o.fc.b, gf, blk.ln2.data() + c0, P + o.fc.w, rows, C, F,
                    Grad::set);
    // d res1 = d res2 (the residual) + the LayerNorm path
    layernorm_backward(g, G + o.ln2.g, G + o.ln2.b, gb, blk.res1.data() + c0, P + o.ln2.g,
                       blk.ln2_mean.data() + q0, blk.ln2_rstd.data() + q0, rows, C, Grad::add);
  }
  // res1 = x + drop(proj(atty))
  const S* d_proj = g;
  if (drop) {
    dropout_apply(ga, g, blk.attproj_mask.data() + q0 * wpr, rows, C, keep_scale);
    d_proj = ga;
  }
  linear_backward(gb, G + o.proj.w, G + o.proj.b, d_proj, blk.atty.data() + c0, P + o.proj.w, rows,
                  C, C, Grad::set);
}

template <typename S>
void backward_tile(Model<S>& m, int b0, int nseq, S* G, typename Model<S>::Workspace& w) {
  const ModelConfig& cfg = m.cfg;
  const int T = cfg.context, C = cfg.d_model, H = cfg.heads, V = cfg.vocab, L = cfg.blocks();
  const bool pre = cfg.norm == Norm::pre, rope = cfg.positions == Positions::rope;
  const bool paper = m.protocol == Protocol::paper, drop = m.last_training;
  const long r0 = long(b0) * T, C3 = 3L * C;
  const int n = nseq * T;
  const S* P = m.params.data();
  const long lnf_g = m.at.lnf.g, lnf_b = m.at.lnf.b, head_w = m.at.head.w, head_b = m.at.head.b;
  const int R = m.batch * targets_per_window(cfg, m.protocol);
  S* gs = w.g_stream.data();

  // loss, head and final LayerNorm, on the predicted rows
  const long R0 = paper ? b0 : r0;
  const int rows = paper ? nseq : n;
  S* dlogits = m.logits.data() + R0 * V;  // the probabilities, turned into their gradient in place
  crossentropy_backward(dlogits, dlogits, m.targets.data() + R0, rows, V, S(1) / S(R));
  S* g_lnf = w.g_a.data();
  linear_backward(g_lnf, G + head_w, G + head_b, dlogits, m.lnf.data() + R0 * C, P + head_w, rows,
                  C, V, Grad::set);
  const auto& top = m.blocks[L - 1];
  const S* top_out = (pre ? top.res2.data() : top.ln2.data()) + R0 * C;
  S* g = paper ? w.g_last.data() : gs;  // d(output of the last block)
  layernorm_backward(g, G + lnf_g, G + lnf_b, g_lnf, top_out, P + lnf_g, m.lnf_mean.data() + R0,
                     m.lnf_rstd.data() + R0, rows, C, Grad::set);

  // blocks, last to first; gs holds d(block output) on entry, d(block input) on exit
  for (int l = L - 1; l >= 0; --l) {
    const auto& blk = m.blocks[l];
    const BlockParams& o = m.at.blocks[size_t(l)];
    const S* x =
        (l == 0 ? m.emb.data() : (pre ? m.blocks[l - 1].res2.data() : m.blocks[l - 1].ln2.data())) +
        r0 * C;
    const S* a_in = pre ? blk.ln1.data() + r0 * C : x;
    S* gq = w.g_qkv.data();
    if (!last_only(m, l)) {
      block_backward_tail(m, blk, o, r0, n, gs, G, w, drop);  // gs = d res1, g_b = d atty
      attention_backward(gq, w.g_att.data(), w.g_b.data(), blk.att.data() + long(b0) * H * T * T,
                         blk.qkv.data() + r0 * C3, nseq, T, C, H);
      if (rope) {
        rope_backward(gq, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
        rope_backward(gq + C, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
      }
      if (!pre) {  // d x = d res1 (the residual) + the qkv path
        linear_backward(gs, G + o.qkv.w, G + o.qkv.b, gq, x, P + o.qkv.w, n, C, 3 * C, Grad::add);
      } else {  // d x = d res1 (the residual) + LN1's backward of the qkv path
        S* ga = w.g_a.data();
        linear_backward(ga, G + o.qkv.w, G + o.qkv.b, gq, a_in, P + o.qkv.w, n, C, 3 * C,
                        Grad::set);
        layernorm_backward(gs, G + o.ln1.g, G + o.ln1.b, ga, x, P + o.ln1.g,
                           blk.ln1_mean.data() + r0, blk.ln1_rstd.data() + r0, n, C, Grad::add);
      }
    } else {
      S* gl = w.g_last.data();
      block_backward_tail(m, blk, o, b0, nseq, gl, G, w, drop);  // gl = d res1 (last rows)
      S* dq = w.g_q.data();
      attention_last_backward(dq, gq, w.g_b.data(), blk.att.data() + long(b0) * H * T,
                              blk.q_last.data() + long(b0) * C, blk.qkv.data() + r0 * C3, nseq, T,
                              C, H);
      if (rope) {
        rope_backward(gq + C, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
        rope_backward(dq, C, nseq, 1, T - 1, C, H, m.rope_cs.data(), cfg.rope_style);
      }
      // d a_in: keys and values of every row, plus the query at the last rows
      S* da = pre ? w.g_a.data() : gs;
      gemm(da, C, gq + C, C3, false, P + o.qkv.w + C, C3, true, n, C, 2 * C, false);
      gemm(da + long(T - 1) * C, long(T) * C, dq, C, false, P + o.qkv.w, C3, true, nseq, C, C,
           true);
      gemm(G + o.qkv.w + C, C3, a_in, C, true, gq + C, C3, false, C, 2 * C, n, true);
      gemm(G + o.qkv.w, C3, a_in + long(T - 1) * C, long(T) * C, true, dq, C, false, C, C, nseq,
           true);
      colsum_add(G + o.qkv.b + C, gq + C, C3, n, 2 * C);
      colsum_add(G + o.qkv.b, dq, C, nseq, C);
      if (pre)
        layernorm_backward(gs, G + o.ln1.g, G + o.ln1.b, da, x, P + o.ln1.g,
                           blk.ln1_mean.data() + r0, blk.ln1_rstd.data() + r0, n, C, Grad::set);
      // the residual: the last rows of x fed res1 directly
      for (int s = 0; s < nseq; ++s) {
        S* d = gs + (long(s) * T + T - 1) * C;
        for (int c = 0; c < C; ++c) d[c] += gl[long(s) * C + c];
      }
    }
  }
  if (drop)
    dropout_apply(gs, gs, m.emb_mask.data() + r0 * mask_words(C), n, C,
                  S(1.0 / (1.0 - cfg.dropout)));
  embedding_backward(G + m.at.wte, cfg.positions == Positions::learned ? G + m.at.wpe : nullptr, gs,
                     m.inputs.data() + r0, nseq, T, C, 0, C);
}

template <typename S>
void transformer_backward(Model<S>& m) {
  ensure_workspace(m);
  const int T = m.cfg.context, B = m.batch;
  const int spt = sequences_per_tile(T), tiles = (B + spt - 1) / spt;
  const long P = long(m.params.size());
#pragma omp parallel
  {
    const int me = omp_get_thread_num(), threads = omp_get_num_threads();
    auto& w = m.work[size_t(me)];
    S* G = m.grads.data();
    if (me > 0) {
      std::fill(w.grads.begin(), w.grads.end(), S(0));
      G = w.grads.data();
    }
    // Static: which thread takes which tile, and so the order of the gradient sums, is fixed.
#pragma omp for schedule(static)
    for (int i = 0; i < tiles; ++i) backward_tile(m, i * spt, std::min(spt, B - i * spt), G, w);
    // The private gradients, added in thread order.
    if (threads > 1) {
      constexpr long kChunk = 4096;
#pragma omp for schedule(static)
      for (long c0 = 0; c0 < P; c0 += kChunk) {
        const long c1 = std::min(P, c0 + kChunk);
        for (int t = 1; t < threads; ++t) {
          const S* src = m.work[size_t(t)].grads.data();
          for (long i = c0; i < c1; ++i) m.grads[i] += src[i];
        }
      }
    }
  }
}

template void transformer_forward<float>(Model<float>&, int, bool, bool, Rng*);
template void transformer_forward<double>(Model<double>&, int, bool, bool, Rng*);
template void transformer_backward<float>(Model<float>&);
template void transformer_backward<double>(Model<double>&);

}  // namespace tinyfront::model_detail
