// A compact L-BFGS minimiser (Nocedal & Wright, algorithm 7.4/7.5) with a backtracking Armijo
// line search. Enough for the handful of parameters of a scaling-law fit; no other dependency.
#pragma once

#include <Eigen/Dense>
#include <functional>

namespace tinyfront {

struct LbfgsOptions {
  int max_iterations = 1000;
  int history = 10;                   // (s, y) pairs kept
  double gradient_tolerance = 1e-10;  // stop when max |g_i| falls below this
  double value_tolerance = 1e-13;     // ... or the value changes by less than this, relatively
};

struct LbfgsResult {
  Eigen::VectorXd x;
  double value = 0;
  int iterations = 0;
  bool converged = false;  // a tolerance was met (not the iteration cap or a failed line search)
};

// f returns the value at x and writes the gradient into grad (already sized like x).
using LbfgsObjective = std::function<double(const Eigen::VectorXd& x, Eigen::VectorXd& grad)>;

LbfgsResult minimize_lbfgs(const LbfgsObjective& f, Eigen::VectorXd x0,
                           const LbfgsOptions& options = {});

}  // namespace tinyfront
