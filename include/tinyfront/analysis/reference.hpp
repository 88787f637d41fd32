// Published figures beside our runs: a reference file (TOML, docs/reference-file.md) lists the
// figures of a paper's tables, each with the config fields that identify the run it reports;
// compare_reference finds our runs of that config, takes mean and standard deviation over their
// seeds and says whether the published figure agrees with them.
//
//   [reference]  title, source, tolerance (nats), rel_tolerance (fraction), sigmas
//   [match]      config fields every figure matches ("data.name = ...", dotted names)
//   [[table]]    name, match.<field>, tolerance, rel_tolerance, sigmas, note
//   [[table.row]] label, match.<field>, tolerance, rel_tolerance, sigmas, note, and metrics:
//                test_nll = 2.0058, params = 430785, ...
//
// A figure agrees ("within") when |ours - theirs| <= tolerance, or when there are at least two
// seeds and theirs lies within our mean +/- sigmas x standard deviation.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tinyfront/run/record.hpp"
#include "tinyfront/util/enum_names.hpp"

namespace tinyfront {

// What a figure reports. NLL-like metrics (nats or bits) take an absolute tolerance, the others
// (counts, FLOPs, perplexity, epochs) a relative one.
enum class ReferenceMetric {
  test_nll,
  best_val_nll,
  test_bpc,
  test_ppl,
  best_val_epoch,  // paper protocol: best_val_step / steps per epoch (1 = after the first epoch)
  params,
  params_non_embedding,
  train_tokens,
  flops_study,
  flops_kaplan,
  flops_exact,
};
constexpr auto enum_names(ReferenceMetric) {
  return std::to_array<EnumName<ReferenceMetric>>(
      {{ReferenceMetric::test_nll, "test_nll"},
       {ReferenceMetric::best_val_nll, "best_val_nll"},
       {ReferenceMetric::test_bpc, "test_bpc"},
       {ReferenceMetric::test_ppl, "test_ppl"},
       {ReferenceMetric::best_val_epoch, "best_val_epoch"},
       {ReferenceMetric::params, "params"},
       {ReferenceMetric::params_non_embedding, "params_non_embedding"},
       {ReferenceMetric::train_tokens, "train_tokens"},
       {ReferenceMetric::flops_study, "flops_study"},
       {ReferenceMetric::flops_kaplan, "flops_kaplan"},
       {ReferenceMetric::flops_exact, "flops_exact"}});
}
bool is_loss_metric(ReferenceMetric m);  // absolute tolerance (nats/bits)
// The metric of one run; NaN when it does not apply (best_val_epoch under the causal protocol).
double reference_metric_value(const RunRecord& r, ReferenceMetric m);

// One published number and the runs it is about.
struct ReferenceFigure {
  std::string table, label;  // where it is published ("Table 1", "linear")
  ReferenceMetric metric = ReferenceMetric::test_nll;
  double value = 0;
  // Config fields (dotted names) and their values rendered as the analysis renders a run's
  // config (run_table's config_fields), so that matching is a string comparison.
  std::vector<std::pair<std::string, std::string>> match;
  double tolerance = 0.05;       // absolute, loss metrics
  double rel_tolerance = 0.005;  // fraction of the figure, other metrics
  double sigmas = 2;
  std::string note;
  int line = 0;  // where the value is written in the reference file
};

struct ReferenceFile {
  std::string path, title, source;
  std::vector<ReferenceFigure> figures;
};

// Reads and validates a reference file; every problem is reported at once as
// file:line:column: key: reason (SpecError), before any results are read.
ReferenceFile load_reference(const std::string& path);

// One figure against our runs.
struct ReferenceRow {
  std::string table, label, metric;
  std::string match;  // "field=value ..." as written in the file
  double reference = 0;
  int64_t n = 0;            // matching usable runs (seeds)
  double mean = 0, sd = 0;  // over them; sd NaN when n < 2
  double min = 0, max = 0;
  double diff = 0;       // mean - reference
  double tolerance = 0;  // the absolute tolerance applied (relative ones resolved)
  double sigmas = 2;
  // "within", "outside", "missing" (no usable run matches) or "ambiguous" (the matching runs
  // differ in more than the seed: the figure's match fields do not pin one config down).
  std::string verdict;
  std::string why;  // which rule made it within; what is missing or ambiguous
  std::string note;
  std::vector<std::string> run_ids;
};

struct ReferenceComparison {
  std::string path, title, source;
  std::vector<ReferenceRow> rows;
  int64_t within = 0, outside = 0, missing = 0, ambiguous = 0;
};

// Records may come from several files; a run id seen twice counts once (its last record).
ReferenceComparison compare_reference(const std::vector<RunRecord>& records,
                                      const ReferenceFile& ref);

}  // namespace tinyfront
