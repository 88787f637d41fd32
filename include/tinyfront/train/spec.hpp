// Job specs: a single run described in TOML, parsed into a RunConfig with every problem reported
// at once (file:line:column, dotted key, reason), before any compute is spent.
//
//   [data]   name, path, tokenizer ("chars"|"words"), split, eos, vocab_from, max_tokens
//   [model]  arch, context, d_model, one_hot, hidden, layers, heads, ff, positions, rope_base,
//            rope_style, norm, activation, dropout, init
//   [train]  protocol, epochs, windows_per_epoch, tokens, batch, lr, beta1, beta2, eps,
//            weight_decay, schedule, warmup_steps, min_lr_ratio, grad_clip, eval_windows,
//            eval_every, patience, restore_best, seed, threads, diverge_loss
#pragma once

#include <toml++/toml.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tinyfront/train/config.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

// Reads and validates a job spec. `overrides` are "section.key=value" strings (the CLI's --set),
// parsed as TOML values. Throws SpecError listing every issue.
RunConfig load_job_spec(const std::string& path, const std::vector<std::string>& overrides = {});

// Applies the [data]/[model]/[train] sections found in `root` onto cfg. Unknown sections or keys,
// wrong types and out-of-range values are appended to `issues` (with file, line, column).
void apply_spec_table(RunConfig& cfg, const toml::table& root, const std::string& file,
                      std::vector<SpecIssue>& issues);

// Applies one field given by its dotted name ("model.heads") from a TOML node, keeping the
// node's source position for messages. Unknown names are reported as issues.
void apply_field(RunConfig& cfg, const std::string& dotted_key, const toml::node& value,
                 const std::string& file, std::vector<SpecIssue>& issues);

// apply_field for many fields on one config: the field table is built once, bound to `target`
// (which must outlive the writer), instead of once per field. Expanding a grid of a million
// points applies millions of fields.
class FieldWriter {
 public:
  explicit FieldWriter(RunConfig& target);
  ~FieldWriter();
  void apply(const std::string& dotted_key, const toml::node& value, const std::string& file,
             std::vector<SpecIssue>& issues);

 private:
  struct Table;
  std::unique_ptr<Table> table_;
};

// Whether a dotted name is a known field ("model.heads" yes, "model.head" no).
bool is_known_field(const std::string& dotted_key);

// Applies one "section.key=value" override; appends an issue if it is malformed.
void apply_override(RunConfig& cfg, const std::string& assignment, std::vector<SpecIssue>& issues);

// Cross-field checks that need no data (heads divide d_model, rope needs an even head size, ...).
void validate_config(const RunConfig& cfg, const std::string& file, std::vector<SpecIssue>& issues);

// Canonical JSON of a config: every field, grouped {"data":{...},"model":{...},"train":{...}},
// with keys in a fixed order. Fields that do not apply to the architecture (e.g. layers of a
// linear model) are normalised to fixed values, so equal runs compare and hash equal.
nlohmann::ordered_json config_to_json(const RunConfig& cfg);
RunConfig config_from_json(const nlohmann::json& j);  // inverse of config_to_json

// A run's identity: the first 16 hex digits of the FNV-1a 64 hash of the canonical JSON text,
// leaving out train.threads and train.budget (how a run is executed or labelled does not make it
// a different run; both are still recorded with its results).
std::string run_id(const RunConfig& cfg);

}  // namespace tinyfront
