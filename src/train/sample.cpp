#include "tinyfront/train/sample.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <unordered_map>

#include "tinyfront/model/model.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

namespace {

std::vector<int32_t> encode(const Vocabulary& v, const std::string& text) {
  std::unordered_map<std::string, int32_t> id;
  for (size_t i = 0; i < v.tokens.size(); ++i) id[v.tokens[i]] = int32_t(i);
  std::vector<int32_t> out;
  auto push = [&](const std::string& t) {
    auto it = id.find(t);
    if (it != id.end()) return out.push_back(it->second);
    if (v.unk_id() >= 0) return out.push_back(v.unk_id());
    throw Error("sample: the prompt's token \"" + t + "\" is not in the vocabulary");
  };
  if (v.kind == TokenizerKind::chars) {
    for (char c : text) push(std::string(1, c));
  } else {
    std::istringstream ws(text);
    std::string w;
    while (ws >> w) push(w);
  }
  return out;
}

}  // namespace

std::string sample_text(const Weights& w, const SampleOptions& opt) {
  const ModelConfig& cfg = w.config.model;
  const int T = cfg.context, V = cfg.vocab;
  Model<float> m = model_create<float>(cfg, Protocol::paper, 1);  // predicts the next token only
  m.params = w.params;
  std::vector<int32_t> seq = encode(w.vocab, opt.prompt);
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
