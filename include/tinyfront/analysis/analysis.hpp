// Offline analysis of a grid search: frontiers, architecture rankings at matched budgets, the
// effect of each config axis, sensitivity to the FLOP convention, the compute-scaled depth check
// and scaling-law fits. Input is the run records of a results file; output is plain tables (one
// struct per row) that write_report turns into Markdown, CSV and JSON.
//
// Which runs count: status done with a finite test NLL. The rest are counted (IgnoredRuns), per
// dataset/protocol too, and never enter any table.
//
// Slices: dataset (config.data.name) x protocol (config.train.protocol). Losses of different
// slices are never compared. "arch" is config.model.arch (linear, mlp, attention, transformer).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tinyfront/analysis/reference.hpp"
#include "tinyfront/analysis/run_table.hpp"
#include "tinyfront/analysis/scaling_fit.hpp"
#include "tinyfront/run/record.hpp"

namespace tinyfront {

struct AnalysisOptions {
  // Which FLOPs the headline tables (ranking summary, plots) use; the others are compared to it.
  FlopConvention main_convention = FlopConvention::study;
  // Ranking buckets: runs are matched by floor(log10(FLOPs) x buckets_per_decade).
  double buckets_per_decade = 1.0;
  // Axes whose effect is reported; empty = every config field that varies, except data.*,
  // train.protocol, train.seed and train.threads.
  std::vector<std::string> axes;
  // Scaling-law fits per dataset/protocol/arch. Off for quick looks: fits and bootstraps take
  // far longer than everything else.
  bool fit = true;
  FitOptions fit_options;
  // Compute-optimal N*, D* are tabulated at 10^k FLOPs for k from the data's smallest 6ND decade
  // to this many decades beyond its largest.
  int optimal_extra_decades = 2;
  // Published tables to put beside the runs (analysis/reference/*.toml, docs/reference-file.md).
  std::vector<ReferenceFile> references;
};

// Counts of one dataset/protocol slice.
struct SliceCounts {
  std::string dataset, protocol;
  int64_t usable = 0;
  IgnoredRuns ignored;
};

// One usable run, with what the tables and plots need (runs.csv).
struct RunRow {
  std::string run_id, dataset, protocol, arch, budget;
  int layers = 0, heads = 0, context = 0, d_model = 0;  // normalised (0 where not applicable)
  std::string positions, norm;
  double lr = 0;
  uint64_t seed = 0;
  int64_t params = 0, params_non_embedding = 0, train_tokens = 0, train_targets = 0;
  std::array<double, 3> flops{};  // study, kaplan, exact (kFlopConventions order)
  double test_nll = 0, best_val_nll = 0, wall_seconds = 0;
  // On the all-architecture frontier of its slice: flops under each convention, then params.
  std::array<bool, 4> on_frontier{};
};

// A frontier member. scope = "all" (every architecture of the slice) or an architecture name.
struct FrontierRow {
  std::string dataset, protocol, scope;
  CostAxis axis = CostAxis::flops_study;
  std::string run_id, arch;
  double cost = 0, test_nll = 0;
  int64_t params = 0, train_tokens = 0;
};

// Best NLL of one architecture within one FLOP bucket, and its rank there (1 = best).
struct RankingRow {
  FlopConvention convention = FlopConvention::study;
  std::string dataset, protocol;
  double bucket_lo = 0, bucket_hi = 0;  // log10 FLOPs
  std::string arch;
  int rank = 0;
  double best_nll = 0;
  std::string best_run_id;
  int64_t n_runs = 0;
};

// Per architecture over all buckets of a slice: how often it ranks first, its mean rank.
struct RankingSummaryRow {
  FlopConvention convention = FlopConvention::study;
  std::string dataset, protocol, arch;
  int buckets = 0, wins = 0;
  double mean_rank = 0;
};

// NLL at one value of an axis, in a group of runs equal in every other field but the seed.
struct AxisEffectRow {
  std::string axis, dataset, protocol;
  int64_t group = 0;  // group number (per axis)
  std::string fixed;  // the group's values of the other varying fields, "field=value ..."
  std::string value;
  int64_t n = 0;  // runs (seeds) at this value
  double mean_nll = 0, min_nll = 0, max_nll = 0, std_nll = 0;
  bool best_in_group = false;  // lowest mean NLL of the group
};

// One axis value across all groups of a slice.
struct AxisSummaryRow {
  std::string axis, dataset, protocol, value;
  int64_t groups = 0;     // groups in which the value occurs
  int64_t wins = 0;       // ... and has the group's lowest mean NLL
  double mean_delta = 0;  // mean of (its mean NLL - the group's best mean NLL)
};

// A run on the all-architecture FLOP frontier of its slice under at least one convention.
struct FrontierMembershipRow {
  std::string dataset, protocol, run_id, arch;
  double test_nll = 0;
  std::array<double, 3> flops{};
  std::array<bool, 3> on{};  // on the frontier under study, kaplan, exact
};

// Which architecture wins a FLOP bucket under each convention.
struct BucketWinnerRow {
  std::string dataset, protocol;
  double bucket_lo = 0, bucket_hi = 0;
  std::array<std::string, 3> winner;  // "" = no run in that bucket under that convention
  std::array<double, 3> best_nll{};
  bool changed = false;  // winners differ between conventions that have one
};

// How a convention's FLOPs compare to the exact count, per architecture (geometric mean, range).
struct FlopsRatioRow {
  std::string dataset, protocol, arch;
  int64_t n = 0;
  double study_over_exact = 0, study_over_exact_min = 0, study_over_exact_max = 0;
  double kaplan_over_exact = 0, kaplan_over_exact_min = 0, kaplan_over_exact_max = 0;
};

// Attention-family runs (attention = one block) at one depth, in a group equal in every other
// field except the seed and what the budget rule derives per size.
struct ComputeScaledRow {
  std::string dataset, protocol, budget;  // budget_group of train.budget
  bool scaled = false;                    // budget != fixed
  int64_t group = 0;
  std::string fixed;
  int layers = 0;
  int64_t n = 0;
  double mean_nll = 0, min_nll = 0, max_nll = 0;
  double params = 0, train_tokens = 0, flops_exact = 0;  // means over the seeds
};

// Deepest vs best shallower depth under one scaled budget rule: does depth recover?
struct ComputeScaledVerdict {
  std::string dataset, protocol, budget;
  int deep_layers = 0, shallow_layers = 0;
  double deep_nll = 0, shallow_nll = 0;                 // best seed-mean over groups at that depth
  double seed_spread = 0;                               // largest max-min over seeds of the two
  int64_t groups_compared = 0, groups_deeper_wins = 0;  // matched groups with both depths
  bool recovers = false;                                // deep_nll <= shallow_nll
  std::string sentence;
};

struct FitRow {
  std::string dataset, protocol, arch;
  // Which runs of the slice and architecture: "all", or "iso_flops" (only runs whose budget is
  // an iso-FLOP budget). An iso-FLOP sweep is the design a scaling-law fit is made for; other
  // runs of the same architecture in the same slice (other widths, epochs, learning rates) would
  // pull its fit, so such runs get a fit of their own besides the fit over all runs.
  std::string runs_used = "all";
  int64_t runs = 0;             // usable runs of the scope (points are fewer: see fit_point_rule)
  std::vector<double> N, D, L;  // the fit points: params, train_tokens, test NLL
  ScalingFit fit;
  std::vector<ComputeOptimal> optimal;  // at 10^k FLOPs, when the fit has an interior optimum
};

// A learning curve of a frontier run.
struct CurveRow {
  std::string run_id;
  std::vector<CurvePoint> points;
};

struct AnalysisReport {
  AnalysisOptions options;
  int64_t records = 0, usable = 0;
  IgnoredRuns ignored;
  std::vector<SliceCounts> slices;
  std::vector<RunRow> runs;
  std::vector<FrontierRow> frontier_flops;   // every convention, scope all and per architecture
  std::vector<FrontierRow> frontier_params;  // scope all and per architecture
  std::vector<RankingRow> ranking;           // every convention
  std::vector<RankingSummaryRow> ranking_summary;
  std::vector<std::string> axes;  // the axes examined
  std::vector<AxisEffectRow> axis_effects;
  std::vector<AxisSummaryRow> axis_summary;
  std::vector<FrontierMembershipRow> membership;
  std::vector<BucketWinnerRow> bucket_winners;
  std::vector<FlopsRatioRow> flops_ratios;
  std::vector<std::string> convention_findings;  // sentences: what changes with the convention
  std::vector<ComputeScaledRow> compute_scaled;
  std::vector<ComputeScaledVerdict> compute_verdicts;
  std::vector<std::string> compute_notes;  // e.g. "no scaled-budget runs"
  std::string fit_point_rule;              // how runs became fit points
  std::vector<FitRow> fits;
  std::vector<CurveRow> curves;                 // runs on any all-architecture frontier
  std::vector<ReferenceComparison> references;  // one per options.references
  double seconds_analysis = 0;                  // everything but the fits
  double seconds_fit = 0;                       // fits and their bootstraps
};

AnalysisReport analyze_runs(const std::vector<RunRecord>& records,
                            const AnalysisOptions& options = {});

}  // namespace tinyfront
