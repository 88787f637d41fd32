#include "tinyfront/train/sample.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tinyfront/data/tokenizer.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

std::string sample_text(const Weights& w, const SampleOptions& opt) {
  const ModelConfig& cfg = w.config.model;
  const int T = cfg.context, V = cfg.vocab;
  Model<float> m = model_create<float>(cfg, Protocol::paper, 1);  // predicts the next token only
  m.params = w.params;
  std::vector<int32_t> seq = encode(w.vocab, opt.prompt, false, "sample: the prompt");
  if (seq.empty()) seq.push_back(0);
  Rng rng(opt.seed);
  std::vector<int32_t> window(static_cast<size_t>(T));
  std::vector<std::pair<float, int>> ranked(static_cast<size_t>(V));
  std::string text = opt.prompt;
  for (int n = 0; n < opt.tokens; ++n) {
    for (int t = 0; t < T; ++t) {
      long src = long(seq.size()) - T + t;
      window[size_t(t)] = src >= 0 ? seq[size_t(src)] : seq[0];
    }
    model_forward<float>(m, window.data(), nullptr, 1, false, nullptr);
    const float* z = m.logits.data();
    int next;
    if (opt.temperature <= 0) {
      next = int(std::max_element(z, z + V) - z);
    } else {
      for (int v = 0; v < V; ++v) ranked[size_t(v)] = {z[v], v};
      int k = opt.top_k > 0 ? std::min(opt.top_k, V) : V;
      std::partial_sort(ranked.begin(), ranked.begin() + k, ranked.end(),
                        [](auto& a, auto& b) { return a.first > b.first; });
      double mx = ranked[0].first, total = 0;
      std::vector<double> p(static_cast<size_t>(k));
      for (int i = 0; i < k; ++i)
        total += p[size_t(i)] = std::exp((ranked[size_t(i)].first - mx) / opt.temperature);
      double u = rng.uniform() * total;
      int i = 0;
      while (i < k - 1 && (u -= p[size_t(i)]) > 0) ++i;
      next = ranked[size_t(i)].second;
    }
    seq.push_back(next);
    if (w.vocab.kind == TokenizerKind::words && !text.empty()) text += ' ';
    text += w.vocab.tokens[size_t(next)];
  }
  return text;
}

}  // namespace tinyfront
