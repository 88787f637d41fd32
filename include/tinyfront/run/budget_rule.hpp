// How a sweep derived a run's training budget, and its label: the text stored in train.budget
// (results files, CSV, reports), which is what analysis groups runs by.
//   fixed                   the spec's own epochs or tokens
//   tokens_per_param=20     windows set so that training tokens = 20 x params
//   iso_flops=1e+15(study)  windows set so that training FLOPs (in that convention) = 1e15
//   scaled_epochs(x2.5)     the reference config's epochs (or tokens) x params / reference params
// The label is written once by to_label and read back by parse_budget_label; nothing else looks
// inside it.
#pragma once

#include <optional>
#include <string>

#include "tinyfront/run/flop_convention.hpp"
#include "tinyfront/util/enum_names.hpp"

namespace tinyfront {

enum class BudgetMode { fixed, tokens_per_param, iso_flops, scaled_epochs };
constexpr auto enum_names(BudgetMode) {
  return std::to_array<EnumName<BudgetMode>>({{BudgetMode::fixed, "fixed"},
                                              {BudgetMode::tokens_per_param, "tokens_per_param"},
                                              {BudgetMode::iso_flops, "iso_flops"},
                                              {BudgetMode::scaled_epochs, "scaled_epochs"}});
}

struct BudgetRule {
  BudgetMode mode = BudgetMode::fixed;
  // tokens_per_param: tokens per parameter; iso_flops: the FLOP budget; scaled_epochs: the
  // params ratio to the reference config (shown with 3 significant digits); fixed: unused.
  double value = 0;
  FlopConvention convention = FlopConvention::study;  // iso_flops only
};

// The train.budget text of a rule. Numbers as a C++ stream prints them (6 significant digits; 3
// for the scaled_epochs ratio), so labels of existing results files are reproduced exactly.
std::string to_label(const BudgetRule& rule);

// The rule of a train.budget text; nullopt if it is not one that to_label writes.
std::optional<BudgetRule> parse_budget_label(const std::string& label);

// What runs are grouped by: the label without the per-run part of scaled_epochs (a model's
// ratio differs by size, the rule does not), "scaled_epochs"; every other label as it is.
std::string budget_group(const std::string& label);

}  // namespace tinyfront
