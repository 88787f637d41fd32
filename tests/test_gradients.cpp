// Every layer's backward and every whole model's gradient against central finite differences,
// in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "tinyfront/model/layers.hpp"
#include "tinyfront/model/model.hpp"

using namespace tinyfront;

namespace {

// Relative error as in llm.c / cs231n: |a-b| / max(|a|+|b|, floor).
double rel_err(double a, double b) { return std::abs(a - b) / std::max(1e-8, std::abs(a) + std::abs(b)); }

std::vector<double> random_vec(size_t n, Rng& rng, double scale = 1.0) {
  std::vector<double> v(n);
  for (auto& x : v) x = scale * rng.normal();
  return v;
}

// Checks d(loss)/d(x) of loss(x) = sum(f(x) .* w) for a random w, against analytic_grad.
void check_gradient(std::vector<double>& x, const std::function<double()>& loss,
                    const std::vector<double>& analytic, const char* what, double tol = 1e-4) {
  const double h = 1e-5;
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double keep = x[i];
    x[i] = keep + h;
    double lp = loss();
    x[i] = keep - h;
    double lm = loss();
    x[i] = keep;
    double numeric = (lp - lm) / (2 * h);
    if (std::abs(numeric) < 1e-9 && std::abs(analytic[i]) < 1e-9) continue;
    worst = std::max(worst, rel_err(numeric, analytic[i]));
  }
  EXPECT_LT(worst, tol) << what;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

TEST(LayerGradients, Linear) {
  Rng rng(1);
  const int N = 5, IC = 7, OC = 4;
  auto x = random_vec(N * IC, rng), W = random_vec(IC * OC, rng), b = random_vec(OC, rng);
  auto w = random_vec(N * OC, rng);  // upstream gradient
  std::vector<double> out(N * OC);
  auto loss = [&] {
    layers::linear_forward(out.data(), x.data(), W.data(), b.data(), N, IC, OC);
    return dot(out, w);
  };
  std::vector<double> dx(N * IC, 0), dW(IC * OC, 0), db(OC, 0);
  layers::linear_backward(dx.data(), dW.data(), db.data(), w.data(), x.data(), W.data(), N, IC, OC);
  check_gradient(x, loss, dx, "linear dx");
  check_gradient(W, loss, dW, "linear dW");
  check_gradient(b, loss, db, "linear db");
}

TEST(LayerGradients, CrossEntropy) {
  Rng rng(2);
  const int N = 6, V = 9;
  auto z = random_vec(N * V, rng, 2.0);
  std::vector<int32_t> tg(N);
  for (auto& t : tg) t = int32_t(rng.below(V));
  std::vector<double> probs(N * V), losses(N);
  auto loss = [&] {
    layers::crossentropy_forward(probs.data(), losses.data(), z.data(), tg.data(), N, V);
    double s = 0;
    for (double l : losses) s += l;
    return s / N;
  };
  loss();
  std::vector<double> dz(N * V);
  layers::crossentropy_backward(dz.data(), probs.data(), tg.data(), N, V, 1.0 / N);
  check_gradient(z, loss, dz, "cross-entropy dlogits");
}

TEST(LayerGradients, LayerNorm) {
  Rng rng(3);
  const int N = 4, C = 8;
  auto x = random_vec(N * C, rng), g = random_vec(C, rng), b = random_vec(C, rng);
  auto w = random_vec(N * C, rng);
  std::vector<double> out(N * C), mean(N), rstd(N);
  auto loss = [&] {
    layers::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), N, C);
    return dot(out, w);
  };
  loss();
  std::vector<double> dx(N * C, 0), dg(C, 0), db(C, 0);
  layers::layernorm_backward(dx.data(), dg.data(), db.data(), w.data(), x.data(), g.data(),
                             mean.data(), rstd.data(), N, C);
  check_gradient(x, loss, dx, "layernorm dx");
  check_gradient(g, loss, dg, "layernorm dgamma");
  check_gradient(b, loss, db, "layernorm dbeta");
}

TEST(LayerGradients, Activations) {
  for (Activation act : {Activation::relu, Activation::gelu}) {
    Rng rng(4);
    const int n = 20;
    auto x = random_vec(n, rng);
    auto w = random_vec(n, rng);
    std::vector<double> out(n);
    auto loss = [&] {
      layers::activation_forward(out.data(), x.data(), n, act);
      return dot(out, w);
    };
    std::vector<double> dx(n, 0);
    layers::activation_backward(dx.data(), w.data(), x.data(), n, act);
    check_gradient(x, loss, dx, to_string(act));
  }
}

TEST(LayerGradients, AttentionAndRope) {
  for (int rope = 0; rope < 3; ++rope) {
    Rng rng(5);
    const int B = 2, T = 5, C = 8, H = 2;
    auto qkv = random_vec(B * T * 3 * C, rng);
    auto w = random_vec(B * T * C, rng);
    std::vector<double> out(B * T * C), att(B * H * T * T), rot(qkv.size());
    RopeStyle style = rope == 2 ? RopeStyle::interleaved : RopeStyle::halves;
    auto loss = [&] {
      rot = qkv;
      if (rope) layers::rope_forward(rot.data(), B, T, C, H, 10000.0, style);
      layers::attention_forward(out.data(), att.data(), rot.data(), B, T, C, H);
      return dot(out, w);
    };
    loss();
    std::vector<double> dqkv(qkv.size(), 0);
    layers::attention_backward(dqkv.data(), w.data(), att.data(), rot.data(), B, T, C, H);
    if (rope) layers::rope_backward(dqkv.data(), B, T, C, H, 10000.0, style);
    check_gradient(qkv, loss, dqkv, rope ? "attention+rope dqkv" : "attention dqkv");
  }
}

TEST(LayerGradients, Embedding) {
  Rng rng(6);
  const int B = 2, T = 3, C = 4, V = 5;
  auto wte = random_vec(V * C, rng), wpe = random_vec(T * C, rng), w = random_vec(B * T * C, rng);
  std::vector<int32_t> tok = {0, 3, 3, 1, 4, 0};
  std::vector<double> out(B * T * C);
  auto loss = [&] {
    layers::embedding_forward(out.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
    return dot(out, w);
  };
  std::vector<double> dwte(V * C, 0), dwpe(T * C, 0);
  layers::embedding_backward(dwte.data(), dwpe.data(), w.data(), tok.data(), B, T, C);
  check_gradient(wte, loss, dwte, "embedding dwte");
  check_gradient(wpe, loss, dwpe, "embedding dwpe");
}

// ---------------------------------------------------------------------------------------------
// Whole-model gradient checks: every parameter of small instances of each architecture.

struct ModelCase {
  const char* name;
  ModelConfig cfg;
  Protocol protocol;
};

class ModelGradient : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelGradient, MatchesFiniteDifferences) {
  const ModelCase& mc = GetParam();
  const int B = 3;
  Model<double> m = model_create<double>(mc.cfg, mc.protocol, B);
  Rng rng(7);
  model_init(m, rng);
  const int T = mc.cfg.context, V = mc.cfg.vocab;
  std::vector<int32_t> in(B * T), tg(B * targets_per_window(mc.cfg, mc.protocol));
  for (auto& t : in) t = int32_t(rng.below(V));
  for (auto& t : tg) t = int32_t(rng.below(V));
  model_zero_grad(m);
  model_forward<double>(m, in.data(), tg.data(), B, false, nullptr);
  model_backward(m);
  std::vector<double> analytic = m.grads;
  auto loss = [&] { return model_forward<double>(m, in.data(), tg.data(), B, false, nullptr); };
  check_gradient(m.params, loss, analytic, mc.name);
}

static ModelConfig small(Arch arch) {
  ModelConfig c;
  c.arch = arch;
  c.vocab = 7;
  c.context = 4;
  c.d_model = 8;
  c.hidden = {6, 5};
  c.layers = 2;
  c.heads = 2;
  c.ff = 12;
  return c;
}

static std::vector<ModelCase> model_cases() {
  std::vector<ModelCase> cases;
  ModelConfig lin = small(Arch::linear);
  cases.push_back({"linear", lin, Protocol::paper});
  lin.one_hot = true;
  cases.push_back({"linear_onehot", lin, Protocol::paper});
  cases.push_back({"mlp", small(Arch::mlp), Protocol::paper});
  for (Protocol p : {Protocol::paper, Protocol::causal}) {
    for (Norm n : {Norm::post, Norm::pre})
      for (Positions pos : {Positions::learned, Positions::rope, Positions::none})
        for (Activation a : {Activation::relu, Activation::gelu}) {
          ModelConfig c = small(Arch::transformer);
          c.norm = n, c.positions = pos, c.activation = a;
          static std::vector<std::string> names;
          names.push_back(std::string("transformer_") + to_string(p) + "_" + to_string(n) + "_" +
                          to_string(pos) + "_" + to_string(a));
          cases.push_back({names.back().c_str(), c, p});
        }
    ModelConfig c = small(Arch::attention);
    c.positions = Positions::rope;
    c.rope_style = RopeStyle::interleaved;
    cases.push_back({p == Protocol::paper ? "attention_paper_rope_interleaved"
                                          : "attention_causal_rope_interleaved",
                     c, p});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, ModelGradient, ::testing::ValuesIn(model_cases()),
                         [](const auto& info) { return std::string(info.param.name); });
