// tinyfront train JOB.toml: one run, in this process.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tinyfront/cli/checks.hpp"
#include "tinyfront/cli/commands.hpp"
#include "tinyfront/cli/exit_codes.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/record_json.hpp"
#include "tinyfront/spec/job_spec.hpp"
#include "tinyfront/store/weights.hpp"
#include "tinyfront/train/sample.hpp"
#include "tinyfront/train/trainer.hpp"
#include "tinyfront/util/files.hpp"

namespace tinyfront::cli {

namespace {
struct TrainOptions {
  std::string spec;
  std::vector<std::string> sets;
  std::string save_weights;
  bool force = false;
  bool json = false;
  bool quiet = false;
};
}  // namespace

Command add_train(CLI::App& app) {
  auto opt = std::make_shared<TrainOptions>();
  CLI::App* sub = app.add_subcommand("train", "Train one model from a job spec (TOML)");
  sub->add_option("spec", opt->spec, "Job spec, e.g. jobs/linear.toml")->required();
  sub->add_option("--set", opt->sets, "Override a spec field: section.key=value (repeatable)");
  sub->add_option("--save-weights", opt->save_weights,
                  "Keep the final (best-validation) weights and vocabulary in this HDF5 file");
  sub->add_flag("--force", opt->force,
                "Let --save-weights replace a file that is not a tinyfront weights file");
  sub->add_flag("--json", opt->json, "Print the result as one JSON object on stdout");
  sub->add_flag("-q,--quiet", opt->quiet, "No progress lines");
  return [opt]() -> int {
    RunConfig cfg = load_job_spec(opt->spec, opt->sets);
    // Before any training: the weights may go only where nothing of the user's is replaced.
    if (!opt->save_weights.empty())
      check_may_write(opt->save_weights,
                      {"--save-weights", OutputKind::file, opt->force, is_weights_file});
    std::string base = std::filesystem::path(opt->spec).parent_path().string();
    Corpus corpus = load_corpus(cfg.data, base);
    TrainHooks hooks;
    if (!opt->quiet)
      hooks.on_eval = [](const CurvePoint& p, int64_t total) {
        std::fprintf(stderr, "step %lld/%lld  tokens %lld  train %.4f  val %.4f  lr %.2e  %.1fs\n",
                     (long long)p.step, (long long)total, (long long)p.tokens, p.train_loss,
                     p.val_loss, p.lr, p.seconds);
      };
    if (!opt->save_weights.empty())
      hooks.on_final_params = [&](const std::vector<float>& params) {
        Weights w;
        w.config = cfg;
        w.config.model.vocab = corpus.vocab.size();
        w.vocab = corpus.vocab;
        w.params = params;
        write_weights(opt->save_weights, w);
      };
    TrainResult r = train_run(cfg, corpus, hooks);
    if (opt->json) {
      // The result as the record codec writes it (run/record_json.hpp; non-finite numbers
      // tagged as everywhere), without the curve, beside the run id and the config.
      nlohmann::ordered_json j;
      j["run_id"] = run_id(cfg);
      const nlohmann::ordered_json result = result_to_json(r);  // outlives the loop's items()
      for (auto& [key, value] : result.items())
        if (key != "curve") j[key] = value;
      j["config"] = config_to_json(cfg);
      std::cout << j.dump() << "\n";
    } else {
      std::printf("run        %s (%s, %s protocol)\n", run_id(cfg).c_str(),
                  to_string(cfg.model.arch), to_string(cfg.train.protocol));
      std::printf("status     %s%s%s\n", to_string(r.status), r.message.empty() ? "" : ": ",
                  r.message.c_str());
      std::printf("params     %lld (%lld non-embedding)\n", (long long)r.params,
                  (long long)r.params_non_embedding);
      std::printf("tokens     %lld training window tokens, %lld predicted\n",
                  (long long)r.train_tokens, (long long)r.train_targets);
      std::printf("FLOPs      %.4g (study 2*P*tokens)  %.4g (6*N*D)  %.4g (exact)\n", r.flops_study,
                  r.flops_kaplan, r.flops_exact);
      std::printf("val NLL    %.4f nats/token (best, step %lld)\n", r.best_val_nll,
                  (long long)r.best_val_step);
      std::printf("test NLL   %.4f nats/token  (ppl %.3f%s)\n", r.test_nll, r.test_ppl,
                  r.test_bpc > 0 ? (", " + std::to_string(r.test_bpc) + " bits/char").c_str() : "");
      std::printf("wall time  %.2f s  (%.0f tokens/s)\n", r.wall_seconds, r.tokens_per_second);
    }
    return r.status == RunStatus::done ? kExitOk : kExitFailed;
  };
}

Command add_sample(CLI::App& app) {
  struct Opt {
    std::string weights;
    SampleOptions s;
  };
  auto opt = std::make_shared<Opt>();
  opt->s.prompt = "ROMEO:";
  CLI::App* sub = app.add_subcommand("sample", "Generate text from saved weights");
  sub->add_option("weights", opt->weights, "Weights file from train --save-weights")->required();
  sub->add_option("--prompt", opt->s.prompt, "Text to continue")->default_val("ROMEO:");
  sub->add_option("--tokens", opt->s.tokens, "Tokens to generate")
      ->default_val(300)
      ->check(whole_number(0, 1 << 24));
  sub->add_option("--temperature", opt->s.temperature, "Softmax temperature (0: greedy)")
      ->default_val(1.0)
      ->check(finite_number(0, 1e6));
  sub->add_option("--top-k", opt->s.top_k, "Sample among the k likeliest tokens (0: all)")
      ->default_val(0)
      ->check(whole_number(0, 1 << 24));
  sub->add_option("--seed", opt->s.seed, "Random seed")->default_val(0);
  return [opt]() -> int {
    Weights w = read_weights(opt->weights);
    std::cout << sample_text(w, opt->s) << "\n";
    return 0;
  };
}

}  // namespace tinyfront::cli
