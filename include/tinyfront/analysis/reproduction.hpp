// REPRODUCTION.md: a published study put beside the sweeps that reproduce it. Written by
// `tinyfront analyze ... --reference FILE --reproduction REPRODUCTION.md`; every number in it
// comes from the results files, so the file regenerates from them with the command at its top.
//
// Sections: the results files and their wall time (beside the plan's estimate), every published
// figure beside ours (the reference comparison), then the study's questions, each with a table
// and a plot of the report directory:
//   Q1  does "attention wins per FLOP" survive exact FLOP accounting and the 6ND convention?
//   Q2  do deeper transformers recover when their budget grows with their size?
//   Q3  under the causal objective, do the rankings and the RoPE result hold?
//   Q4  a scaling law L(N, D) on the iso-FLOP runs, beside Chinchilla's and Epoch AI's fits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyfront/analysis/analysis.hpp"

namespace tinyfront {

// One results file, as its own runs tell it.
struct ResultsFileSummary {
  std::string path;
  int64_t runs = 0, done = 0;
  double run_seconds = 0;  // sum of the wall time of its finished runs
  int workers = 0;         // distinct (host, rank) pairs that finished runs
  double flops_exact = 0;  // training FLOPs of its finished runs, counted exactly
};

ResultsFileSummary summarise_results_file(const std::string& path,
                                          const std::vector<RunRecord>& records);

struct ReproductionInputs {
  std::string command;     // the command that regenerates the file, stated at its top
  std::string plots_link;  // the report's plots directory, relative to the file
  std::vector<ResultsFileSummary> files;
  double plan_flops_per_second = 0;  // the rate the plan assumed; 0 = no estimate column
};

// Published scaling-law fits that Q4 compares with: L = E + A/N^alpha + B/D^beta.
struct PublishedFit {
  const char* name;
  double E, A, B, alpha, beta;
};
const std::vector<PublishedFit>& published_scaling_fits();  // Chinchilla, Epoch AI's refit

// The Markdown text; its first line marks it as written by tinyfront.
std::string reproduction_markdown(const AnalysisReport& report, const ReproductionInputs& inputs);

// Whether `path` holds a file reproduction_markdown wrote (and so may be replaced).
bool is_reproduction_file(const std::string& path);

// The plot file stem analysis/plot_report.py uses for these parts ("a b/c" -> "a-b-c").
std::string plot_slug(const std::vector<std::string>& parts);

}  // namespace tinyfront
