#include "tinyfront/run/budget_rule.hpp"

#include <cstdlib>
#include <iomanip>
#include <sstream>

namespace tinyfront {

std::string to_label(const BudgetRule& rule) {
  std::ostringstream s;
  switch (rule.mode) {
    case BudgetMode::fixed:
      s << "fixed";
      break;
    case BudgetMode::tokens_per_param:
      s << "tokens_per_param=" << rule.value;
      break;
    case BudgetMode::iso_flops:
      s << "iso_flops=" << rule.value << "(" << to_string(rule.convention) << ")";
      break;
    case BudgetMode::scaled_epochs:
      s << "scaled_epochs(x" << std::setprecision(3) << rule.value << ")";
      break;
  }
  return s.str();
}

namespace {

// The number at the start of text, and what follows it; nullopt if there is none.
std::optional<std::pair<double, std::string>> leading_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) return std::nullopt;
  return std::make_pair(v, std::string(end));
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::optional<BudgetRule> parse_budget_label(const std::string& label) {
  BudgetRule r;
  if (label == "fixed") return r;
  if (starts_with(label, "tokens_per_param=")) {
    auto n = leading_number(label.substr(17));
    if (!n || !n->second.empty()) return std::nullopt;
    r.mode = BudgetMode::tokens_per_param, r.value = n->first;
  } else if (starts_with(label, "iso_flops=")) {
    auto n = leading_number(label.substr(10));
    if (!n || n->second.size() < 3 || n->second.front() != '(' || n->second.back() != ')')
      return std::nullopt;
    if (!parse_enum(n->second.substr(1, n->second.size() - 2), r.convention)) return std::nullopt;
    r.mode = BudgetMode::iso_flops, r.value = n->first;
  } else if (starts_with(label, "scaled_epochs(x")) {
    auto n = leading_number(label.substr(15));
    if (!n || n->second != ")") return std::nullopt;
    r.mode = BudgetMode::scaled_epochs, r.value = n->first;
  } else {
    return std::nullopt;
  }
  return r;
}

std::string budget_group(const std::string& label) {
  auto rule = parse_budget_label(label);
  return rule && rule->mode == BudgetMode::scaled_epochs ? "scaled_epochs" : label;
}

}  // namespace tinyfront
