// The raw material of the analysis: which runs count, what each one cost, and every config field of
// every run as a column of small integer codes (so that "group the runs by all fields except X"
// is a sort over integers, not over JSON).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tinyfront/run/budget_rule.hpp"
#include "tinyfront/run/flop_convention.hpp"
#include "tinyfront/run/record.hpp"
#include "tinyfront/util/enum_names.hpp"

namespace tinyfront {

// The cost axis of a frontier: training FLOPs under one FlopConvention (run/flop_convention.hpp),
// or the parameter count. Named "flops_study", "flops_kaplan", "flops_exact" and "params" in
// reports, CSV columns and plots.
enum class CostAxis { flops_study, flops_kaplan, flops_exact, params };
constexpr auto enum_names(CostAxis) {
  return std::to_array<EnumName<CostAxis>>({{CostAxis::flops_study, "flops_study"},
                                            {CostAxis::flops_kaplan, "flops_kaplan"},
                                            {CostAxis::flops_exact, "flops_exact"},
                                            {CostAxis::params, "params"}});
}
constexpr std::array<CostAxis, 4> kCostAxes{CostAxis::flops_study, CostAxis::flops_kaplan,
                                            CostAxis::flops_exact, CostAxis::params};
// The FLOP axis of a convention.
constexpr CostAxis flops_axis(FlopConvention c) {
  return c == FlopConvention::study    ? CostAxis::flops_study
         : c == FlopConvention::kaplan ? CostAxis::flops_kaplan
                                       : CostAxis::flops_exact;
}
// The run's cost on an axis.
double run_cost(const TrainResult& r, CostAxis c);

// A run counts iff it finished (status done) with a finite test NLL. Everything else is ignored
// and counted here, so that a report can say what it left out.
struct IgnoredRuns {
  int64_t failed = 0;
  int64_t diverged = 0;
  int64_t other = 0;          // pending, running, preempted: not finished
  int64_t nonfinite_nll = 0;  // status done but test_nll is NaN or infinite
  int64_t total() const { return failed + diverged + other + nonfinite_nll; }
  void count(const RunRecord& r);  // adds r if it is not usable
};
bool is_usable(const RunRecord& r);

// The fields a non-fixed budget rule derives per model size. Runs under one rule differ in them
// by construction, so they are not "other fields" when comparing such runs.
inline const std::array<const char*, 3> kBudgetDerivedFields{
    "train.epochs", "train.windows_per_epoch", "train.tokens"};

// Every field of the field table (run/fields.hpp; the fields of config_to_json, with the same
// normalisation of fields that do not apply, in the same order) as dotted name and rendered value:
// strings and enums as they are, numbers in shortest round-trip form, lists as "[a,b]". Fast: it
// reads the struct directly instead of building JSON.
std::vector<std::pair<std::string, std::string>> config_fields(const RunConfig& cfg);
// The same fields rendered the same way, but as set, without the normalisation: a value written
// in a reference file or a spec, to compare with the config_fields of runs.
std::vector<std::pair<std::string, std::string>> config_fields_as_given(const RunConfig& cfg);

// Config fields as columns over a set of runs. codes[f][row] indexes values[f].
struct ConfigColumns {
  std::vector<std::string> names;                // dotted field names, config_to_json order
  std::vector<std::vector<int32_t>> codes;       // [field][row]
  std::vector<std::vector<std::string>> values;  // [field][code] -> rendered value
  size_t rows = 0;

  int field(const std::string& name) const;  // index of a field, or -1
  const std::string& value(int field, size_t row) const { return values[field][codes[field][row]]; }
  bool varies(int field) const { return values[field].size() > 1; }
};

// The columns are the fields of the table (run/fields.hpp), normalised as config_to_json does.
ConfigColumns config_columns(const std::vector<const RunConfig*>& configs);

}  // namespace tinyfront
