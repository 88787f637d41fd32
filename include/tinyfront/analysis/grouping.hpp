// Grouping runs "equal in every field except ...": config columns prepared for comparison, and
// dense group numbers from an integer sort.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyfront/analysis/run_table.hpp"

namespace tinyfront {

// ConfigColumns as compared across runs:
//  - train.budget holds the budget rule (run/budget_rule.hpp: budget_group), so scaled_epochs runs
//  of different sizes
//    are under the same budget;
//  - under a non-fixed rule the fields the rule derives per size (kBudgetDerivedFields) read
//    "(set by budget)", so they do not split runs the rule made different on purpose.
inline constexpr const char* kSetByBudget = "(set by budget)";

struct GroupingColumns {
  std::vector<std::string> names;
  std::vector<std::vector<int32_t>> codes;       // [field][row]
  std::vector<std::vector<std::string>> values;  // [field][code]
  std::vector<char> varying;                     // [field]: more than one value in use

  int field(const std::string& name) const;
  const std::string& value(int field, size_t row) const { return values[field][codes[field][row]]; }
  bool varies(int field) const { return varying[field] != 0; }
};

GroupingColumns grouping_columns(const ConfigColumns& cols);

// Dense group numbers, in order of first appearance in `rows`, for the runs `rows` (indices into
// the columns): two runs share a group iff they are equal in every field f with use[f] != 0.
// Returns one number per entry of rows; n_groups receives the count.
std::vector<int64_t> group_rows(const GroupingColumns& g, const std::vector<char>& use,
                                const std::vector<size_t>& rows, int64_t& n_groups);

}  // namespace tinyfront
