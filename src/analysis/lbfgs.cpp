#include "tinyfront/analysis/lbfgs.hpp"

#include <cmath>
#include <deque>

namespace tinyfront {

LbfgsResult minimize_lbfgs(const LbfgsObjective& f, Eigen::VectorXd x0,
                           const LbfgsOptions& options) {
  using Eigen::VectorXd;
  const Eigen::Index n = x0.size();
  LbfgsResult res;
  VectorXd x = std::move(x0), g(n), x_new(n), g_new(n);
  double fx = f(x, g);
  std::deque<VectorXd> S, Y;  // most recent last
  std::deque<double> rho;
  if (!std::isfinite(fx)) {
    res.x = x, res.value = fx;
    return res;
  }
  bool restarted = false;  // the last step was plain steepest descent after a failed search
  for (int it = 0; it < options.max_iterations; ++it) {
    res.iterations = it;
    if (g.cwiseAbs().maxCoeff() < options.gradient_tolerance) {
      res.converged = true;
      break;
    }
    // Two-loop recursion: d = -H g with H the L-BFGS inverse-Hessian approximation.
    VectorXd q = g;
    std::vector<double> alpha(S.size());
    for (int k = int(S.size()) - 1; k >= 0; --k) {
      alpha[k] = rho[k] * S[k].dot(q);
      q -= alpha[k] * Y[k];
    }
    if (!S.empty()) q *= S.back().dot(Y.back()) / Y.back().squaredNorm();
    for (size_t k = 0; k < S.size(); ++k) {
      double beta = rho[k] * Y[k].dot(q);
      q += (alpha[k] - beta) * S[k];
    }
    VectorXd d = -q;
    double slope = g.dot(d);
    if (!(slope < 0)) {  // not a descent direction (numerical trouble): fall back to -g
      S.clear(), Y.clear(), rho.clear();
      d = -g;
      slope = -g.squaredNorm();
    }
    // First step of a fresh memory: scaled so that the move is at most 1 in the largest coordinate.
    double step = S.empty() ? std::min(1.0, 1.0 / std::max(1e-300, d.cwiseAbs().maxCoeff())) : 1.0;
    double f_new = 0;
    bool accepted = false;
    for (int tries = 0; tries < 60; ++tries) {
      x_new = x + step * d;
      f_new = f(x_new, g_new);
      if (std::isfinite(f_new) && f_new <= fx + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) {
      if (restarted || S.empty()) break;  // even steepest descent made no progress: stop here
      S.clear(), Y.clear(), rho.clear();
      restarted = true;
      continue;
    }
    restarted = false;
    VectorXd s = x_new - x, y = g_new - g;
    const double sy = s.dot(y);
    const double change = std::abs(fx - f_new);
    x.swap(x_new), g.swap(g_new), fx = f_new;
    if (sy > 1e-12 * s.norm() * y.norm()) {  // keep only pairs with positive curvature
      S.push_back(s), Y.push_back(y), rho.push_back(1.0 / sy);
      if (int(S.size()) > options.history) S.pop_front(), Y.pop_front(), rho.pop_front();
    }
    if (change <= options.value_tolerance * std::max(1.0, std::abs(fx))) {
      res.converged = true;
      res.iterations = it + 1;
      break;
    }
    res.iterations = it + 1;
  }
  res.x = x, res.value = fx;
  return res;
}

}  // namespace tinyfront
