// analyze_runs' FLOP-convention sensitivity tables.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <unordered_map>

#include "tinyfront/analysis/analysis.hpp"
#include "tinyfront/analysis/frontier.hpp"
#include "tinyfront/analysis/grouping.hpp"

#include "analysis_table.hpp"

namespace tinyfront::analysis_table {

// ---------------------------------------------------------------------------------------------
// FLOP-convention sensitivity: frontier membership, bucket winners, FLOP ratios, findings.

void build_convention_sensitivity(const Table& t, AnalysisReport& rep) {
  (void)t;
  const char* short_name[3] = {"study", "kaplan", "exact"};
  for (const RunRow& r : rep.runs)
    if (r.on_frontier[0] || r.on_frontier[1] || r.on_frontier[2]) {
      FrontierMembershipRow m;
      m.dataset = r.dataset, m.protocol = r.protocol, m.run_id = r.run_id, m.arch = r.arch;
      m.test_nll = r.test_nll, m.flops = r.flops;
      for (int c = 0; c < 3; ++c) m.on[c] = r.on_frontier[c];
      rep.membership.push_back(m);
    }
  // Bucket winners: rank-1 rows of the ranking, side by side.
  std::map<std::tuple<std::string, std::string, double>, BucketWinnerRow> winners;
  for (const RankingRow& row : rep.ranking) {
    if (row.rank != 1) continue;
    auto& w = winners[{row.dataset, row.protocol, row.bucket_lo}];
    w.dataset = row.dataset, w.protocol = row.protocol;
    w.bucket_lo = row.bucket_lo, w.bucket_hi = row.bucket_hi;
    const int c = int(row.convention);
    w.winner[c] = row.arch, w.best_nll[c] = row.best_nll;
  }
  for (auto& [key, w] : winners) {
    std::set<std::string> distinct;
    for (auto& a : w.winner)
      if (!a.empty()) distinct.insert(a);
    w.changed = distinct.size() > 1;
    rep.bucket_winners.push_back(w);
  }
  // FLOP ratios per slice and architecture.
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const RunRow*>> by_arch;
  for (const RunRow& r : rep.runs) by_arch[{r.dataset, r.protocol, r.arch}].push_back(&r);
  for (auto& [key, rows] : by_arch) {
    FlopsRatioRow f;
    std::tie(f.dataset, f.protocol, f.arch) = key;
    double log_s = 0, log_k = 0;
    f.study_over_exact_min = f.kaplan_over_exact_min = INFINITY;
    f.study_over_exact_max = f.kaplan_over_exact_max = -INFINITY;
    int64_t n_k = 0;
    for (const RunRow* r : rows) {
      if (!(r->flops[2] > 0)) continue;
      const double s = r->flops[0] / r->flops[2], k = r->flops[1] / r->flops[2];
      if (s > 0) {
        ++f.n, log_s += std::log(s);
        f.study_over_exact_min = std::min(f.study_over_exact_min, s);
        f.study_over_exact_max = std::max(f.study_over_exact_max, s);
      }
      if (k > 0) {
        ++n_k, log_k += std::log(k);
        f.kaplan_over_exact_min = std::min(f.kaplan_over_exact_min, k);
        f.kaplan_over_exact_max = std::max(f.kaplan_over_exact_max, k);
      }
    }
    if (f.n == 0) continue;  // no exact counts
    f.study_over_exact = std::exp(log_s / double(f.n));
    f.kaplan_over_exact = n_k ? std::exp(log_k / double(n_k)) : NAN;
    if (!n_k) f.kaplan_over_exact_min = f.kaplan_over_exact_max = NAN;
    rep.flops_ratios.push_back(f);
  }

  // Findings, per slice.
  for (const SliceCounts& sl : rep.slices) {
    if (sl.usable == 0) continue;
    const std::string where = sl.dataset + "/" + sl.protocol;
    std::array<std::vector<std::string>, 3> members;
    std::map<std::string, std::string> arch_of_run;
    for (const auto& m : rep.membership)
      if (m.dataset == sl.dataset && m.protocol == sl.protocol) {
        arch_of_run[m.run_id] = m.arch;
        for (int c = 0; c < 3; ++c)
          if (m.on[c]) members[c].push_back(m.run_id);
      }
    std::ostringstream s;
    s << where << ": the all-architecture frontier has " << members[0].size() << " runs under "
      << "flops_study, " << members[1].size() << " under flops_kaplan, " << members[2].size()
      << " under flops_exact";
    std::vector<std::string> differing;
    for (const auto& m : rep.membership) {
      if (m.dataset != sl.dataset || m.protocol != sl.protocol) continue;
      if (m.on[0] == m.on[1] && m.on[1] == m.on[2]) continue;
      std::string on;
      for (int c = 0; c < 3; ++c)
        if (m.on[c]) on += std::string(on.empty() ? "" : "+") + short_name[c];
      differing.push_back(m.run_id + " (" + m.arch + ", only " + on + ")");
    }
    if (differing.empty()) {
      s << "; the members are the same under all three.";
    } else {
      s << "; " << differing.size() << " members differ: ";
      for (size_t i = 0; i < differing.size() && i < 8; ++i) s << (i ? ", " : "") << differing[i];
      if (differing.size() > 8) s << ", ... (see convention_sensitivity.csv)";
      s << ".";
    }
    rep.convention_findings.push_back(s.str());

    int buckets = 0, changed = 0;
    std::ostringstream w;
    for (const auto& b : rep.bucket_winners) {
      if (b.dataset != sl.dataset || b.protocol != sl.protocol) continue;
      ++buckets;
      if (!b.changed) continue;
      if (changed < 4) {
        w << (changed ? "; " : " ") << "10^" << fmt(b.bucket_lo, 3) << "-10^" << fmt(b.bucket_hi, 3)
          << " FLOPs:";
        for (int c = 0; c < 3; ++c)
          w << " " << short_name[c] << " " << (b.winner[c].empty() ? "-" : b.winner[c])
            << (b.winner[c].empty() ? "" : " (" + fixed3(b.best_nll[c]) + ")");
      }
      ++changed;
    }
    std::ostringstream s2;
    s2 << where << ": the best architecture per FLOP decade differs between conventions in "
       << changed << " of " << buckets << " buckets" << (changed ? ":" : ".") << w.str()
       << (changed > 4 ? "; ..." : "") << (changed ? "." : "");
    rep.convention_findings.push_back(s2.str());

    std::ostringstream s3;
    s3 << where << ": flops_study / flops_exact (geometric mean over runs):";
    bool any = false;
    for (const auto& f : rep.flops_ratios)
      if (f.dataset == sl.dataset && f.protocol == sl.protocol) {
        s3 << (any ? ", " : " ") << f.arch << " " << fmt(f.study_over_exact, 3) << "x";
        any = true;
      }
    if (any) {
      s3 << " (>1: the study's 2*P*tokens overstates the cost; <1: understates).";
      rep.convention_findings.push_back(s3.str());
    }
  }
}

}  // namespace tinyfront::analysis_table
