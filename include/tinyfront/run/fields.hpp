// A run's definition, written once: every field of RunConfig with its section, key, range,
// choices and the architectures (or settings) it applies to. Everything that reads or writes a
// config field by field is generated from this table: the TOML schema of job and sweep specs
// (spec/), the normalisation of fields that do not apply (normalise), the canonical JSON and the
// run id (run/config_json.hpp), and the analysis columns (analysis/run_table.hpp). A new field is
// one entry here, beside its member in run/config.hpp, model/config.hpp or data/corpus.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyfront/run/config.hpp"

namespace tinyfront {

// Where a field applies. Elsewhere normalise() sets it to the table's value for "does not
// apply", so that runs differing only in such a field are one run (same JSON, same run id, same
// analysis columns).
enum class Applies {
  always,
  linear,              // model.arch = linear
  mlp,                 // model.arch = mlp
  attention_family,    // model.arch = attention or transformer
  transformer,         // model.arch = transformer (attention has exactly one block)
  not_linear,          // every architecture but linear (the linear model has no dropout)
  learned_embeddings,  // every model but a linear one with one-hot codes
  rope,                // model.positions = rope
  cosine,              // train.schedule = cosine
  words,               // data.tokenizer = words
};

struct FieldInfo {
  const char* section;  // "data", "model" or "train"
  const char* key;      // "heads"
  Applies applies = Applies::always;
  // Range in a spec: integers and reals lo..hi (lo excluded when lo_open), list elements of
  // integer lists.
  double lo = 0, hi = 0;
  bool lo_open = false;
  // A string field's allowed values, as the spec's messages list them (an enumeration's come
  // from its enum_names table).
  const char* choices = nullptr;
  bool in_spec = true;   // settable in a spec (train.budget is set by the sweep's budget rule)
  bool identity = true;  // hashed into the run id (train.threads and train.budget are not)
  // Fields added after results files existed: left out of the run id while they hold this value
  // (as JSON text), the behaviour before them, so old run ids stay valid; absent from old JSON,
  // they keep their defaults.
  const char* unhashed_default = nullptr;
};

// Whether `a` holds for cfg. A condition reads only fields that come before the fields it
// governs in the table (arch, positions, schedule, tokenizer), or fields that are never
// normalised where it reads them (one_hot of a linear model).
bool applies(Applies a, const RunConfig& cfg);

// Calls visit(const FieldInfo&, Member& member, const Member& off) for every field of c in the
// canonical order (data, model, train: the order of config_to_json and of the analysis columns).
// `off` is the value the field takes where it does not apply. Config may be const.
template <class Config, class Visit>
void for_each_field(Config& c, Visit&& visit) {
  using A = Applies;
  using S = std::string;
  constexpr double kBig = double(int64_t(1) << 50);
  constexpr double kInt64Max = 9223372036854775807.0;
  auto& d = c.data;
  auto& m = c.model;
  auto& t = c.train;
  visit(FieldInfo{.section = "data", .key = "name"}, d.name, S());
  visit(FieldInfo{.section = "data", .key = "path"}, d.path, S());
  visit(FieldInfo{.section = "data", .key = "tokenizer"}, d.tokenizer, TokenizerKind::chars);
  visit(FieldInfo{.section = "data", .key = "split"}, d.split, std::vector<double>());
  visit(FieldInfo{.section = "data", .key = "eos", .applies = A::words}, d.eos, false);
  visit(FieldInfo{.section = "data", .key = "vocab_from", .choices = "all, train"}, d.vocab_from,
        S());
  visit(FieldInfo{.section = "data", .key = "max_tokens", .unhashed_default = "[0,0,0]"},
        d.max_tokens, std::vector<int64_t>());
  visit(FieldInfo{.section = "model", .key = "arch"}, m.arch, Arch::transformer);
  visit(FieldInfo{.section = "model", .key = "context", .lo = 1, .hi = 1 << 16}, m.context, 0);
  visit(FieldInfo{.section = "model",
                  .key = "d_model",
                  .applies = A::learned_embeddings,
                  .lo = 1,
                  .hi = 1 << 16},
        m.d_model, 0);
  visit(FieldInfo{.section = "model", .key = "one_hot", .applies = A::linear}, m.one_hot, false);
  visit(FieldInfo{.section = "model", .key = "hidden", .applies = A::mlp, .lo = 1, .hi = 1 << 20},
        m.hidden, std::vector<int>());
  // The attention model is a transformer of exactly one block.
  visit(
      FieldInfo{.section = "model", .key = "layers", .applies = A::transformer, .lo = 1, .hi = 256},
      m.layers, m.arch == Arch::attention ? 1 : 0);
  visit(
      FieldInfo{
          .section = "model", .key = "heads", .applies = A::attention_family, .lo = 1, .hi = 1024},
      m.heads, 0);
  visit(
      FieldInfo{
          .section = "model", .key = "ff", .applies = A::attention_family, .lo = 1, .hi = 1 << 20},
      m.ff, 0);
  visit(FieldInfo{.section = "model", .key = "positions", .applies = A::attention_family},
        m.positions, Positions::none);
  visit(FieldInfo{.section = "model",
                  .key = "rope_base",
                  .applies = A::rope,
                  .lo = 1.0,
                  .hi = 1e12,
                  .lo_open = true},
        m.rope_base, 0.0);
  visit(FieldInfo{.section = "model", .key = "rope_style", .applies = A::rope}, m.rope_style,
        RopeStyle::halves);
  visit(FieldInfo{.section = "model", .key = "norm", .applies = A::attention_family}, m.norm,
        Norm::post);
  visit(FieldInfo{.section = "model", .key = "activation", .applies = A::attention_family},
        m.activation, Activation::relu);
  visit(
      FieldInfo{
          .section = "model", .key = "dropout", .applies = A::not_linear, .lo = 0.0, .hi = 0.95},
      m.dropout, 0.0);
  visit(FieldInfo{.section = "model", .key = "init", .unhashed_default = "\"torch\""}, m.init,
        Init::torch);
  visit(FieldInfo{.section = "train", .key = "protocol"}, t.protocol, Protocol::paper);
  visit(FieldInfo{.section = "train", .key = "epochs", .lo = 1, .hi = 1 << 20}, t.epochs, 0);
  visit(FieldInfo{.section = "train", .key = "windows_per_epoch", .lo = 1, .hi = kBig},
        t.windows_per_epoch, int64_t(0));
  visit(FieldInfo{.section = "train", .key = "tokens", .lo = 0, .hi = kBig}, t.tokens, int64_t(0));
  visit(FieldInfo{.section = "train", .key = "batch", .lo = 1, .hi = 1 << 16}, t.batch, 0);
  visit(FieldInfo{.section = "train", .key = "lr", .lo = 0.0, .hi = 10.0, .lo_open = true}, t.lr,
        0.0);
  visit(FieldInfo{.section = "train", .key = "beta1", .lo = 0.0, .hi = 0.999999}, t.beta1, 0.0);
  visit(FieldInfo{.section = "train", .key = "beta2", .lo = 0.0, .hi = 0.999999999}, t.beta2, 0.0);
  visit(FieldInfo{.section = "train", .key = "eps", .lo = 0.0, .hi = 1.0, .lo_open = true}, t.eps,
        0.0);
  visit(FieldInfo{.section = "train", .key = "weight_decay", .lo = 0.0, .hi = 10.0}, t.weight_decay,
        0.0);
  visit(FieldInfo{.section = "train", .key = "schedule"}, t.schedule, Schedule::constant);
  visit(FieldInfo{.section = "train", .key = "warmup_steps", .lo = 0, .hi = kBig}, t.warmup_steps,
        int64_t(0));
  visit(
      FieldInfo{
          .section = "train", .key = "min_lr_ratio", .applies = A::cosine, .lo = 0.0, .hi = 1.0},
      t.min_lr_ratio, 0.0);
  visit(FieldInfo{.section = "train", .key = "grad_clip", .lo = 0.0, .hi = 1e9}, t.grad_clip, 0.0);
  visit(FieldInfo{.section = "train", .key = "eval_windows", .lo = 0, .hi = kBig}, t.eval_windows,
        int64_t(0));
  visit(FieldInfo{.section = "train", .key = "eval_every", .lo = 0, .hi = kBig}, t.eval_every,
        int64_t(0));
  visit(FieldInfo{.section = "train", .key = "patience", .lo = 0, .hi = 1 << 20}, t.patience, 0);
  visit(FieldInfo{.section = "train", .key = "restore_best"}, t.restore_best, false);
  // seed: a uint64, but a spec can write only what a TOML (signed 64-bit) integer holds.
  visit(FieldInfo{.section = "train", .key = "seed", .lo = 0, .hi = kInt64Max}, t.seed,
        uint64_t(0));
  visit(FieldInfo{.section = "train", .key = "threads", .lo = 1, .hi = 1024, .identity = false},
        t.threads, 0);
  visit(
      FieldInfo{.section = "train", .key = "diverge_loss", .lo = 0.0, .hi = 1e30, .lo_open = true},
      t.diverge_loss, 0.0);
  visit(FieldInfo{.section = "train", .key = "budget", .in_spec = false, .identity = false},
        t.budget, S());
}

// Whether a dotted name is a field a spec may set ("model.heads" yes, "model.head" no).
bool is_known_field(const std::string& dotted_key);

// cfg with every field that does not apply set to the table's value: the form config_to_json
// encodes, the run id hashes and the analysis compares.
RunConfig normalise(const RunConfig& cfg);

}  // namespace tinyfront
