// Job specs: a single run described in TOML, parsed into a RunConfig with every problem reported
// at once (file:line:column, dotted key, reason), before any compute is spent.
//
//   [data]   name, path, tokenizer ("chars"|"words"), split, eos, vocab_from, max_tokens
//   [model]  arch, context, d_model, one_hot, hidden, layers, heads, ff, positions, rope_base,
//            rope_style, norm, activation, dropout, init
//   [train]  protocol, epochs, windows_per_epoch, tokens, batch, lr, beta1, beta2, eps,
//            weight_decay, schedule, warmup_steps, min_lr_ratio, grad_clip, eval_windows,
//            eval_every, patience, restore_best, seed, threads, diverge_loss
//
// toml++ stays inside the spec module: the functions that take TOML nodes are in the private
// src/spec/toml_fields.hpp, for the sweep spec parser. A config's JSON form and run id are in
// run/config_json.hpp.
#pragma once

#include <string>
#include <vector>

#include "tinyfront/run/config.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

// Reads and validates a job spec. `overrides` are "section.key=value" strings (the CLI's --set),
// parsed as TOML values. Throws SpecError listing every issue.
RunConfig load_job_spec(const std::string& path, const std::vector<std::string>& overrides = {});

// Whether a dotted name is a known field ("model.heads" yes, "model.head" no).
bool is_known_field(const std::string& dotted_key);

// Applies one "section.key=value" override; appends an issue if it is malformed.
void apply_override(RunConfig& cfg, const std::string& assignment, std::vector<SpecIssue>& issues);

// Cross-field checks that need no data (heads divide d_model, rope needs an even head size, ...).
void validate_config(const RunConfig& cfg, const std::string& file, std::vector<SpecIssue>& issues);

}  // namespace tinyfront
