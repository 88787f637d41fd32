// Scaling-law fit L(N, D) = E + A / N^alpha + B / D^beta, the way Chinchilla (Hoffmann et al.
// 2022, approach 3) and Epoch AI's replication (Besiroglu et al. 2024) do it:
//
//   minimise  sum_i Huber_delta( LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i )
//
// over (a, b, e, alpha, beta) with A = exp(a), B = exp(b), E = exp(e): the residual is that of
// log-loss, so every point weighs by its relative error, and the Huber loss (delta = 1e-3) keeps a
// few outliers (a bad learning rate, an unlucky seed) from pulling the fit. The objective is not
// convex, so L-BFGS starts from the best points of a grid of initial values and the best end
// point is kept. Confidence intervals come from a bootstrap over points (resampled with
// replacement, fixed seed); each replicate starts from the full-data optimum.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tinyfront/analysis/lbfgs.hpp"

namespace tinyfront {

struct FitOptions {
  double huber_delta = 1e-3;
  // Initial values (Chinchilla's grid). Every combination is scored; L-BFGS runs from the
  // `starts` best ones (running it from all 4,500 would cost ~100x more for the same optimum).
  std::vector<double> grid_alpha{0, 0.5, 1, 1.5, 2};
  std::vector<double> grid_beta{0, 0.5, 1, 1.5, 2};
  std::vector<double> grid_e{-1, -0.5, 0, 0.5, 1};
  std::vector<double> grid_a{0, 5, 10, 15, 20, 25};
  std::vector<double> grid_b{0, 5, 10, 15, 20, 25};
  int starts = 32;
  LbfgsOptions lbfgs;
  // Fewer distinct points than this (about twice the 5 parameters) and the fit is not attempted.
  int min_points = 10;
  int bootstrap_reps = 200;  // 0 = no confidence intervals
  uint64_t bootstrap_seed = 20240417;
  double ci_level = 0.95;  // percentile interval
};

struct Interval {
  double lo = std::numeric_limits<double>::quiet_NaN();
  double hi = std::numeric_limits<double>::quiet_NaN();
};

struct ScalingFit {
  bool ok = false;
  std::string message;  // why there is no fit, or notes on a fit
  int n_points = 0;
  double E = 0, A = 0, B = 0, alpha = 0, beta = 0;
  double objective = 0;           // Huber loss at the optimum (sum over points)
  double rmse_log = 0;            // RMSE of the log-loss residuals
  double max_abs_residual = 0;    // largest |log L_fit - log L|
  std::vector<double> residuals;  // log L_fit - log L per input point
  int starts_converged = 0;       // L-BFGS runs that met a tolerance
  Interval E_ci, A_ci, B_ci, alpha_ci, beta_ci;
  Interval n_exponent_ci;  // of beta / (alpha + beta): how N* grows with compute
  int bootstrap_ok = 0;    // replicates that produced a finite fit
  double seconds_fit = 0;
  double seconds_bootstrap = 0;

  double predict(double N, double D) const;
};

// Fits the law to points (N_i, D_i, L_i); N, D, L must be positive and finite (others are left
// out and said so in message). Refuses (ok = false, message says why) with fewer than
// options.min_points distinct (N, D) points, fewer than 3 distinct N or D, or N and D so
// correlated (|corr(log N, log D)| > 0.999, e.g. every run at 20 tokens per parameter) that the
// two power laws cannot be told apart.
ScalingFit fit_scaling_law(const std::vector<double>& N, const std::vector<double>& D,
                           const std::vector<double>& L, const FitOptions& options = {});

// The compute-optimal allocation under C = 6 N D (closed form of minimising L(N, C / 6N)):
//   N* = G (C/6)^(beta/(alpha+beta)),  D* = (C/6)^(alpha/(alpha+beta)) / G,
//   G  = (alpha A / (beta B))^(1/(alpha+beta)).
// NaN when the fit has no interior optimum (alpha or beta <= 0).
struct ComputeOptimal {
  double C = 0, N = 0, D = 0, loss = 0;
};
ComputeOptimal compute_optimal(const ScalingFit& fit, double C);

}  // namespace tinyfront
