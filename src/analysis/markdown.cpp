#include "markdown.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tinyfront::md {

// Numbers in CSV and JSON: enough digits to round-trip what matters (%.10g), NaN as "nan".
std::string num(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}
std::string num(int64_t v) {
  return std::to_string(v);
}
std::string num(int v) {
  return std::to_string(v);
}
std::string num(uint64_t v) {
  return std::to_string(v);
}
std::string flag(bool b) {
  return b ? "1" : "0";
}

// Short human forms for Markdown.
std::string f4(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "-" : num(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}
std::string g3(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "-" : num(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// A Markdown table.
void md_table(std::ostream& o, const std::vector<std::string>& header,
              const std::vector<std::vector<std::string>>& rows) {
  auto line = [&](const std::vector<std::string>& cells) {
    o << '|';
    for (const auto& c : cells) {
      std::string esc;
      for (char ch : c) esc += ch == '|' ? std::string("\\|") : std::string(1, ch);
      o << ' ' << esc << " |";
    }
    o << '\n';
  };
  line(header);
  o << '|';
  for (size_t i = 0; i < header.size(); ++i) o << "---|";
  o << '\n';
  for (const auto& r : rows) line(r);
  o << '\n';
}

const char* short_convention(CostAxis c) {
  switch (c) {
    case CostAxis::flops_study:
      return "study";
    case CostAxis::flops_kaplan:
      return "kaplan";
    case CostAxis::flops_exact:
      return "exact";
    case CostAxis::params:
      return "params";
  }
  return "?";
}

std::string interval(const Interval& i, bool wide) {
  if (std::isnan(i.lo)) return "";
  // Appended piece by piece: "[" + std::string&& trips a false GCC 12 -Wrestrict warning.
  std::string s("[");
  s += wide ? g3(i.lo) : f4(i.lo);
  s += ", ";
  s += wide ? g3(i.hi) : f4(i.hi);
  s += ']';
  return s;
}

// A figure as printed: NLLs with 4 decimals, counts whole, FLOPs in 3 significant digits.
std::string figure(double v, const std::string& metric) {
  if (!std::isfinite(v)) return "-";
  if (metric == "params" || metric == "params_non_embedding" || metric == "train_tokens") {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  if (metric.rfind("flops", 0) == 0) return g3(v);
  if (metric == "best_val_epoch") {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2g", v);
    return buf;
  }
  return f4(v);
}

void write_reference_markdown(std::ostream& o, const AnalysisReport& rep) {
  for (const auto& ref : rep.references) {
    o << "## Published figures: " << (ref.title.empty() ? ref.path : ref.title) << "\n\n";
    if (!ref.source.empty()) o << "Source: " << ref.source << ". ";
    o << "Reference file `" << ref.path << "`. A figure is *within* when it lies within our mean "
      << "+/- sigmas x sd over seeds (two or more seeds) or within the tolerance of our mean "
      << "(nats for NLLs, a fraction of the figure for counts and FLOPs); *missing* when no "
      << "usable run matches its config; *ambiguous* when the matching runs differ in more than "
      << "the seed.\n\n"
      << "**" << ref.within << " within, " << ref.outside << " outside, " << ref.missing
      << " missing";
    if (ref.ambiguous) o << ", " << ref.ambiguous << " ambiguous";
    o << "** of " << ref.rows.size() << " figures.\n\n";
    std::vector<std::string> tables;
    for (const auto& r : ref.rows)
      if (std::find(tables.begin(), tables.end(), r.table) == tables.end())
        tables.push_back(r.table);
    for (const auto& t : tables) {
      o << "### " << (t.empty() ? "(no table)" : t) << "\n\n";
      std::vector<std::vector<std::string>> rows;
      std::vector<std::string> notes;
      for (const auto& r : ref.rows) {
        if (r.table != t) continue;
        std::string verdict = r.verdict;
        if (!r.why.empty() && r.verdict != "within") verdict += " (" + r.why + ")";
        // Appended piece by piece ("+" + std::string&& trips GCC 12's false -Wrestrict).
        std::string diff = std::isfinite(r.diff) && r.diff >= 0 ? "+" : "";
        diff += figure(r.diff, r.metric);
        rows.push_back({r.label, r.metric, figure(r.reference, r.metric), figure(r.mean, r.metric),
                        figure(r.sd, r.metric), num(r.n), diff, figure(r.tolerance, r.metric),
                        verdict});
        if (!r.note.empty() && std::find(notes.begin(), notes.end(), r.note) == notes.end())
          notes.push_back(r.note);
      }
      md_table(
          o,
          {"row", "metric", "published", "ours (mean)", "sd", "n", "diff", "tolerance", "verdict"},
          rows);
      for (const auto& n : notes) o << "Note: " << n << "\n\n";
    }
  }
}

}  // namespace tinyfront::md
