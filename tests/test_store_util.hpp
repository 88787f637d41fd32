// Helpers shared by the results store tests (tests/test_store*.cpp).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tinyfront/run/config_json.hpp"
#include "tinyfront/store/results_file.hpp"

namespace tinyfront::store_test {

// A fresh directory under /tmp, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tinyfront-store-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// A record whose fields all depend on i, so that every column is exercised with varied values.
inline RunRecord make_record(int i, RunStatus status = RunStatus::done) {
  RunRecord r;
  RunConfig& c = r.config;
  c.model.arch = i % 3 == 0 ? Arch::linear : i % 3 == 1 ? Arch::mlp : Arch::transformer;
  c.model.d_model = 16 + (i % 7) * 16;
  c.model.hidden = {32 + i % 100, 64};
  c.model.heads = 2;
  c.model.vocab = 65 + i % 3;
  c.model.positions = i % 2 ? Positions::rope : Positions::learned;
  c.train.lr = 1e-3 * (1 + i % 5);
  c.train.schedule = i % 2 ? Schedule::cosine : Schedule::constant;
  c.train.seed = uint64_t(i) * 0x9E3779B97F4A7C15ull;  // the whole uint64 range
  c.train.threads = 1 + i % 4;
  c.train.budget = i % 2 ? "tokens_per_param=20" : "fixed";
  r.run_id = run_id(c);
  r.result.status = status;
  r.result.message = status == RunStatus::done ? "" : "stopped at record " + std::to_string(i);
  r.result.params = 1000 + i;
  r.result.params_non_embedding = 500 + i;
  r.result.steps = 100 + i;
  r.result.train_windows = 6400 + i;
  r.result.train_tokens = 819200 + i;
  r.result.train_targets = 6400 + i;
  r.result.flops_study = 2.0 * r.result.params * r.result.train_tokens;
  r.result.flops_kaplan = 6.0 * r.result.params_non_embedding * r.result.train_targets;
  r.result.flops_exact = 1.2345678901234567e12 + i;
  r.result.best_val_nll = 1.4 + i * 1e-3;
  r.result.best_val_step = 90 + i;
  r.result.test_nll = 1.5 + i * 1e-3;
  r.result.test_ppl = std::exp(r.result.test_nll);
  r.result.test_bpc = r.result.test_nll / std::log(2.0);
  r.result.wall_seconds = 12.5 + i;
  r.result.tokens_per_second = 65536.25 + i;
  for (int k = 0; k < 3 + i % 4; ++k)
    r.result.curve.push_back({int64_t(k) * 10, int64_t(k) * 1280, 2.0 - 0.1 * k, 2.1 - 0.1 * k,
                              1e-3 * (1 + i % 5), 0.5 * k});
  r.rank = i % 8;
  r.host = "node" + std::to_string(i % 3);
  r.started_at = 1.7e9 + i + 0.125;
  r.finished_at = r.started_at + 10.25;
  return r;
}

// Doubles compare bit for bit, except that any NaN equals any NaN.
inline bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

inline void expect_same_record(const RunRecord& a, const RunRecord& b, bool with_curve) {
  SCOPED_TRACE("run " + a.run_id);
  EXPECT_EQ(a.run_id, b.run_id);
  // config_from_json(config_to_json(c)) is c up to the normalisation of fields that do not apply
  // to the architecture; compare canonical forms, plus what the JSON cannot show.
  EXPECT_EQ(config_to_json(a.config).dump(), config_to_json(b.config).dump());
  EXPECT_EQ(a.config.model.vocab, b.config.model.vocab);
  EXPECT_TRUE(same_double(a.config.train.diverge_loss, b.config.train.diverge_loss));
  EXPECT_EQ(a.config.train.seed, b.config.train.seed);
  const TrainResult &x = a.result, &y = b.result;
  EXPECT_EQ(x.status, y.status);
  EXPECT_EQ(x.message, y.message);
  EXPECT_EQ(x.params, y.params);
  EXPECT_EQ(x.params_non_embedding, y.params_non_embedding);
  EXPECT_EQ(x.steps, y.steps);
  EXPECT_EQ(x.train_windows, y.train_windows);
  EXPECT_EQ(x.train_tokens, y.train_tokens);
  EXPECT_EQ(x.train_targets, y.train_targets);
  EXPECT_TRUE(same_double(x.flops_study, y.flops_study));
  EXPECT_TRUE(same_double(x.flops_kaplan, y.flops_kaplan));
  EXPECT_TRUE(same_double(x.flops_exact, y.flops_exact));
  EXPECT_TRUE(same_double(x.best_val_nll, y.best_val_nll));
  EXPECT_EQ(x.best_val_step, y.best_val_step);
  EXPECT_TRUE(same_double(x.test_nll, y.test_nll));
  EXPECT_TRUE(same_double(x.test_ppl, y.test_ppl));
  EXPECT_TRUE(same_double(x.test_bpc, y.test_bpc));
  EXPECT_TRUE(same_double(x.wall_seconds, y.wall_seconds));
  EXPECT_TRUE(same_double(x.tokens_per_second, y.tokens_per_second));
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(a.host, b.host);
  EXPECT_TRUE(same_double(a.started_at, b.started_at));
  EXPECT_TRUE(same_double(a.finished_at, b.finished_at));
  if (with_curve) {
    ASSERT_EQ(x.curve.size(), y.curve.size());
    for (size_t k = 0; k < x.curve.size(); ++k) {
      EXPECT_EQ(x.curve[k].step, y.curve[k].step);
      EXPECT_EQ(x.curve[k].tokens, y.curve[k].tokens);
      EXPECT_TRUE(same_double(x.curve[k].train_loss, y.curve[k].train_loss));
      EXPECT_TRUE(same_double(x.curve[k].val_loss, y.curve[k].val_loss));
      EXPECT_TRUE(same_double(x.curve[k].lr, y.curve[k].lr));
      EXPECT_TRUE(same_double(x.curve[k].seconds, y.curve[k].seconds));
    }
  }
}

}  // namespace tinyfront::store_test
