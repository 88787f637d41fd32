// The linear and MLP models: a window of T embeddings (or one-hot tokens, for the one-hot linear
// model) flattened into one row, through ReLU hidden layers (MLP) to the logits of the next
// token. Few rows (the batch) and wide matrices: each layer is parallelised over its outputs
// (linear_forward_par / linear_backward_par).
#include <stdexcept>

#include "model_detail.hpp"

namespace tinyfront::model_detail {

template <typename S>
void mlp_forward(Model<S>& m, int B, bool drop, Rng* rng) {
  const ModelConfig& cfg = m.cfg;
  const int T = cfg.context, C = cfg.d_model, V = cfg.vocab;
  const int32_t* inputs = m.inputs.data();
  const S* P = m.params.data();
  switch (cfg.arch) {
    case Arch::linear: {
      if (cfg.one_hot) {
        const S* W = P + m.at.head.w;
        const S* bias = P + m.at.head.b;
#pragma omp parallel for schedule(static)
        for (int b = 0; b < B; ++b) {
          S* z = m.logits.data() + (long)b * V;
          for (int v = 0; v < V; ++v) z[v] = bias[v];
          for (int t = 0; t < T; ++t) {
            const S* w = W + ((long)t * V + inputs[(long)b * T + t]) * V;
            for (int v = 0; v < V; ++v) z[v] += w[v];
          }
        }
      } else {
        const S* wte = P + m.at.wte;
        parallel_range(B, [&](long lo, long hi) {
          embedding_forward(m.emb.data() + lo * T * C, inputs + lo * T, wte, (const S*)nullptr,
                            int(hi - lo), T, C);
        });
        linear_forward_par(m.logits.data(), m.emb.data(), P + m.at.head.w, P + m.at.head.b, B,
                           T * C, V);
      }
      break;
    }
    case Arch::mlp: {
      const uint64_t key = drop ? rng->next() : 0;
      const S* wte = P + m.at.wte;
      parallel_range(B, [&](long lo, long hi) {
        embedding_forward(m.emb.data() + lo * T * C, inputs + lo * T, wte, (const S*)nullptr,
                          int(hi - lo), T, C);
      });
      const S* x = m.emb.data();
      int in = T * C;
      for (size_t i = 0; i < cfg.hidden.size(); ++i) {
        const int h = cfg.hidden[i];
        S* y = m.hid[i].data();
        linear_forward_par(y, x, P + m.at.hidden[i].w, P + m.at.hidden[i].b, B, in, h);
        activation_forward(y, y, (long)B * h, Activation::relu);
        if (drop) {
          const Dropout d{cfg.dropout, key, hidden_stream(i), 0};
          uint32_t* bits = m.hid_mask[i].data();
          parallel_range(B, [&](long lo, long hi) {
            Dropout dl = d;
            dl.row0 = uint64_t(lo);
            dropout_forward(y + lo * h, y + lo * h, bits + lo * mask_words(h), int(hi - lo), h, dl);
          });
        }
        x = y;
        in = h;
      }
      linear_forward_par(m.logits.data(), x, P + m.at.head.w, P + m.at.head.b, B, in, V);
      break;
    }
    case Arch::attention:
    case Arch::transformer:
      throw std::logic_error("mlp_forward: an attention model");
  }
}

template <typename S>
void mlp_backward(Model<S>& m) {
  const ModelConfig& cfg = m.cfg;
  const int B = m.batch, T = cfg.context, C = cfg.d_model, V = cfg.vocab;
  const bool drop = m.last_training;
  S* dlogits = m.logits.data();  // the probabilities, turned into their gradient in place
  crossentropy_backward(dlogits, dlogits, m.targets.data(), B, V, S(1) / S(B));

  auto par = [&](long offset) { return m.params.data() + offset; };
  auto grd = [&](long offset) { return m.grads.data() + offset; };
  const long head_w = m.at.head.w, head_b = m.at.head.b;
  // Token rows may repeat across the batch: the embedding gradient is scattered by columns.
  auto embedding_grad = [&](const S* g) {
    parallel_range(C, [&](long lo, long hi) {
      embedding_backward(grd(m.at.wte), (S*)nullptr, g, m.inputs.data(), B, T, C, int(lo), int(hi));
    });
  };

  if (cfg.arch == Arch::linear) {
    if (cfg.one_hot) {
      S* dW = grd(head_w);
      S* db = grd(head_b);
      for (int b = 0; b < B; ++b) {  // serial: rows of dW may repeat across the batch
        const S* g = dlogits + (long)b * V;
        for (int v = 0; v < V; ++v) db[v] += g[v];
        for (int t = 0; t < T; ++t) {
          S* w = dW + ((long)t * V + m.inputs[(long)b * T + t]) * V;
          for (int v = 0; v < V; ++v) w[v] += g[v];
        }
      }
    } else {
      linear_backward_par(m.g_a.data(), grd(head_w), grd(head_b), dlogits, m.emb.data(),
                          par(head_w), B, T * C, V, Grad::set);
      embedding_grad(m.g_a.data());
    }
    return;
  }
  // MLP
  const size_t nh = cfg.hidden.size();
  linear_backward_par(m.g_hid[nh - 1].data(), grd(head_w), grd(head_b), dlogits,
                      m.hid[nh - 1].data(), par(head_w), B, cfg.hidden[nh - 1], V, Grad::set);
  for (size_t i = nh; i-- > 0;) {
    const int h = cfg.hidden[i];
    const long n = (long)B * h;
    S* g = m.g_hid[i].data();
    if (drop) dropout_apply(g, g, m.hid_mask[i].data(), B, h, S(1.0 / (1.0 - cfg.dropout)));
    // d(pre-activation), in place; hid (after ReLU and dropout) has the sign that matters
    activation_backward(g, g, m.hid[i].data(), n, Activation::relu, Grad::set);
    const LinearParams& fc = m.at.hidden[i];
    const int in = i == 0 ? T * C : cfg.hidden[i - 1];
    const S* x = i == 0 ? m.emb.data() : m.hid[i - 1].data();
    S* dx = i == 0 ? m.g_a.data() : m.g_hid[i - 1].data();
    linear_backward_par(dx, grd(fc.w), grd(fc.b), g, x, par(fc.w), B, in, h, Grad::set);
  }
  embedding_grad(m.g_a.data());
}

template void mlp_forward<float>(Model<float>&, int, bool, Rng*);
template void mlp_forward<double>(Model<double>&, int, bool, Rng*);
template void mlp_backward<float>(Model<float>&);
template void mlp_backward<double>(Model<double>&);

}  // namespace tinyfront::model_detail
