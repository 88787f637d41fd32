#include "tinyfront/analysis/grouping.hpp"

#include <algorithm>
#include <unordered_map>

namespace tinyfront {

int GroupingColumns::field(const std::string& name) const {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return int(i);
  return -1;
}

GroupingColumns grouping_columns(const ConfigColumns& cols) {
  GroupingColumns g;
  g.names = cols.names;
  g.codes = cols.codes;
  g.values = cols.values;
  const int f_budget = g.field("train.budget");
  if (f_budget >= 0) {
    // Budget labels -> rules; remember which rows are under a non-fixed rule.
    std::vector<std::string> rules;
    std::vector<int32_t> rule_of_label(cols.values[f_budget].size());
    std::vector<char> label_scaled(cols.values[f_budget].size());
    for (size_t c = 0; c < cols.values[f_budget].size(); ++c) {
      const std::string rule = budget_group(cols.values[f_budget][c]);
      auto it = std::find(rules.begin(), rules.end(), rule);
      if (it == rules.end()) it = rules.insert(rules.end(), rule);
      rule_of_label[c] = int32_t(it - rules.begin());
      label_scaled[c] = rule != "fixed";
    }
    g.values[f_budget] = rules;
    std::vector<char> scaled(cols.rows);
    for (size_t r = 0; r < cols.rows; ++r) {
      const int32_t label = cols.codes[f_budget][r];
      scaled[r] = label_scaled[label];
      g.codes[f_budget][r] = rule_of_label[label];
    }
    for (const char* name : kBudgetDerivedFields) {
      const int f = g.field(name);
      if (f < 0) continue;
      const int32_t masked = int32_t(g.values[f].size());
      g.values[f].push_back(kSetByBudget);
      for (size_t r = 0; r < cols.rows; ++r)
        if (scaled[r]) g.codes[f][r] = masked;
    }
  }
  g.varying.assign(g.names.size(), 0);
  for (size_t f = 0; f < g.names.size(); ++f) {
    const auto& c = g.codes[f];
    g.varying[f] = std::any_of(c.begin(), c.end(), [&](int32_t x) { return x != c.front(); });
  }
  return g;
}

namespace {
uint64_t mix64(uint64_t x) {  // murmur3 finaliser
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}
}  // namespace

std::vector<int64_t> group_rows(const GroupingColumns& g, const std::vector<char>& use,
                                const std::vector<size_t>& rows, int64_t& n_groups) {
  // Only fields that vary can tell runs apart.
  std::vector<int> fields;
  for (size_t f = 0; f < g.names.size(); ++f)
    if (use[f] && g.varies(int(f))) fields.push_back(int(f));
  const size_t n = rows.size();
  std::vector<uint64_t> hash(n);
  for (size_t k = 0; k < n; ++k) {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int f : fields)
      h = mix64(h ^ (uint64_t(uint32_t(g.codes[f][rows[k]])) + (uint64_t(f) << 40)));
    hash[k] = h;
  }
  auto same = [&](size_t a, size_t b) {
    for (int f : fields)
      if (g.codes[f][rows[a]] != g.codes[f][rows[b]]) return false;
    return true;
  };
  // One pass with a hash table: the first run of each group represents it. Runs whose hash
  // matches are compared field by field (chained per hash), so a collision cannot merge groups.
  // Numbers follow first appearance, so they do not depend on the hash.
  constexpr size_t kNone = size_t(-1);
  std::unordered_map<uint64_t, size_t> first_with_hash;
  first_with_hash.reserve(n);
  std::vector<size_t> next_with_hash(n, kNone);
  std::vector<int64_t> group(n);
  n_groups = 0;
  for (size_t k = 0; k < n; ++k) {
    auto [it, inserted] = first_with_hash.try_emplace(hash[k], k);
    if (inserted) {
      group[k] = n_groups++;
      continue;
    }
    size_t r = it->second, last = r;
    bool found = false;
    for (; r != kNone; last = r, r = next_with_hash[r])
      if (same(r, k)) {
        group[k] = group[r];
        found = true;
        break;
      }
    if (!found) {
      next_with_hash[last] = k;
      group[k] = n_groups++;
    }
  }
  return group;
}

}  // namespace tinyfront
