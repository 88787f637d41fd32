// Writing an analysis out: a directory a person reads (report.md), a plotting script reads (one
// CSV per table) and a program reads (analysis.json).
//
//   report.md               every table and verdict, with the counts of ignored runs
//   runs.csv                every usable run, FLOPs under each convention, frontier flags
//   slices.csv              usable and ignored runs per dataset/protocol
//   frontier_flops.csv      frontier members under each convention, all archs and per arch
//   frontier_params.csv     frontier members against parameters
//   ranking.csv             best NLL per architecture per FLOP bucket and its rank
//   ranking_summary.csv     wins and mean rank per architecture
//   axis_effects.csv        NLL per axis value within groups equal in all other fields
//   axis_summary.csv        per axis value over all groups: wins, mean gap to the group's best
//   convention_sensitivity.csv  runs on the frontier under some convention, flag per convention
//   bucket_winners.csv      winning architecture per FLOP bucket under each convention
//   flops_ratio.csv         flops_study / flops_exact and flops_kaplan / flops_exact per arch
//   compute_scaled.csv      attention-family NLL per depth at matched budget rules
//   compute_verdicts.csv    deepest vs best shallower depth per scaled budget rule
//   fit.csv                 scaling-law constants with bootstrap intervals, or why no fit
//   fit_points.csv          the points each fit used, with fitted value and residual
//   compute_optimal.csv     N*(C), D*(C) the fits imply under C = 6 N D
//   curves.csv              learning curves of the frontier runs
//   reference.csv           published figures beside ours, with verdicts (with --reference)
//   analysis.json           the key numbers
#pragma once

#include <string>

#include "tinyfront/analysis/analysis.hpp"

namespace tinyfront {

// Creates out_dir if needed and (over)writes the files above, plus a mark (.tinyfront-report)
// saying tinyfront wrote the directory. Each file is written whole or not at all; a read-only
// one is refused. Throws Error if a file cannot be written.
void write_report(const AnalysisReport& report, const std::string& out_dir);

// Whether `dir` may take a report without replacing a user's files: it holds the mark of an
// earlier report, or it is empty.
bool is_report_directory(const std::string& dir);

}  // namespace tinyfront
