#include "tinyfront/analysis/scaling_fit.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>

#include "tinyfront/util/rng.hpp"

namespace tinyfront {

namespace {

using Eigen::ArrayXd;
using Eigen::VectorXd;

// Parameter vector layout: (a, b, e, alpha, beta) with A = e^a, B = e^b, E = e^e.
enum { P_A = 0, P_B, P_E, P_ALPHA, P_BETA, P_COUNT };

struct LogPoints {
  ArrayXd logN, logD, logL;
};

// Sum_i w_i Huber(LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i), and its gradient if
// grad is given. w holds bootstrap multiplicities (all ones for the plain fit).
double huber_objective(const LogPoints& pts, const ArrayXd& w, double delta, const VectorXd& p,
                       VectorXd* grad, ArrayXd* residuals = nullptr) {
  const ArrayXd t1 = p[P_A] - p[P_ALPHA] * pts.logN;
  const ArrayXd t2 = p[P_B] - p[P_BETA] * pts.logD;
  const ArrayXd t3 = ArrayXd::Constant(t1.size(), p[P_E]);
  const ArrayXd m = t1.max(t2).max(t3);  // log-sum-exp, shifted for stability
  const ArrayXd e1 = (t1 - m).exp(), e2 = (t2 - m).exp(), e3 = (t3 - m).exp();
  const ArrayXd s = e1 + e2 + e3;
  const ArrayXd r = m + s.log() - pts.logL;
  if (residuals) *residuals = r;
  const ArrayXd ar = r.abs();
  const ArrayXd h = (ar <= delta).select(0.5 * r.square(), delta * (ar - 0.5 * delta));
  const double value = (w * h).sum();
  if (grad) {
    const ArrayXd dh = w * r.max(-delta).min(delta);  // Huber'(r), weighted
    const ArrayXd c1 = dh * e1 / s, c2 = dh * e2 / s, c3 = dh * e3 / s;
    (*grad)[P_A] = c1.sum();
    (*grad)[P_B] = c2.sum();
    (*grad)[P_E] = c3.sum();
    (*grad)[P_ALPHA] = -(c1 * pts.logN).sum();
    (*grad)[P_BETA] = -(c2 * pts.logD).sum();
  }
  return value;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

double correlation(const ArrayXd& x, const ArrayXd& y) {
  const ArrayXd dx = x - x.mean(), dy = y - y.mean();
  const double den = std::sqrt(dx.square().sum() * dy.square().sum());
  return den > 0 ? (dx * dy).sum() / den : 1.0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

double ScalingFit::predict(double N, double D) const {
  return E + A / std::pow(N, alpha) + B / std::pow(D, beta);
}

ScalingFit fit_scaling_law(const std::vector<double>& N, const std::vector<double>& D,
                           const std::vector<double>& L, const FitOptions& options) {
  ScalingFit fit;
  const auto t0 = std::chrono::steady_clock::now();
  if (N.size() != D.size() || N.size() != L.size()) {
    fit.message = "N, D and L have different lengths";
    return fit;
  }
  // Usable points only: the law is in logs.
  std::vector<size_t> keep;
  for (size_t i = 0; i < N.size(); ++i)
    if (std::isfinite(N[i]) && std::isfinite(D[i]) && std::isfinite(L[i]) && N[i] > 0 && D[i] > 0 &&
        L[i] > 0)
      keep.push_back(i);
  std::ostringstream notes;
  if (keep.size() < N.size())
    notes << (N.size() - keep.size())
          << " points with non-positive or non-finite N, D or L left out. ";
  fit.n_points = int(keep.size());

  std::set<std::pair<double, double>> distinct_points;
  std::set<double> distinct_N, distinct_D;
  for (size_t i : keep) {
    distinct_points.emplace(N[i], D[i]);
    distinct_N.insert(N[i]);
    distinct_D.insert(D[i]);
  }
  if (int(distinct_points.size()) < options.min_points) {
    std::ostringstream m;
    m << notes.str() << "not fitted: " << distinct_points.size()
      << " distinct (N, D) points, fewer than " << options.min_points
      << " (about twice the 5 parameters E, A, B, alpha, beta)";
    fit.message = m.str();
    return fit;
  }
  if (distinct_N.size() < 3 || distinct_D.size() < 3) {
    std::ostringstream m;
    m << notes.str() << "not fitted: " << distinct_N.size() << " distinct N and "
      << distinct_D.size() << " distinct D; each power law needs at least 3 values of its variable";
    fit.message = m.str();
    return fit;
  }

  LogPoints pts;
  const Eigen::Index n = Eigen::Index(keep.size());
  pts.logN.resize(n), pts.logD.resize(n), pts.logL.resize(n);
  for (Eigen::Index k = 0; k < n; ++k) {
    pts.logN[k] = std::log(N[keep[k]]);
    pts.logD[k] = std::log(D[keep[k]]);
    pts.logL[k] = std::log(L[keep[k]]);
  }
  const double corr = correlation(pts.logN, pts.logD);
  if (std::abs(corr) > 0.999) {
    std::ostringstream m;
    m << notes.str() << "not fitted: log N and log D are collinear (correlation " << corr
      << "), as under a tokens-per-parameter budget; A/N^alpha and B/D^beta cannot be separated";
    fit.message = m.str();
    return fit;
  }

  const ArrayXd ones = ArrayXd::Ones(n);
  const double delta = options.huber_delta;
  auto objective_with = [&](const ArrayXd& w) {
    return [&pts, &w, delta](const VectorXd& p, VectorXd& g) {
      return huber_objective(pts, w, delta, p, &g);
    };
  };

  // Score the grid of initial values, then optimise from the best few.
  std::vector<std::pair<double, VectorXd>> scored;
  VectorXd p(P_COUNT);
  for (double a : options.grid_a)
    for (double b : options.grid_b)
      for (double e : options.grid_e)
        for (double al : options.grid_alpha)
          for (double be : options.grid_beta) {
            p << a, b, e, al, be;
            const double v = huber_objective(pts, ones, delta, p, nullptr);
            if (std::isfinite(v)) scored.emplace_back(v, p);
          }
  const size_t starts = std::min(scored.size(), size_t(std::max(1, options.starts)));
  std::partial_sort(scored.begin(), scored.begin() + starts, scored.end(),
                    [](const auto& x, const auto& y) { return x.first < y.first; });
  LbfgsResult best;
  best.value = std::numeric_limits<double>::infinity();
  const auto full_objective = objective_with(ones);
  for (size_t s = 0; s < starts; ++s) {
    LbfgsResult r = minimize_lbfgs(full_objective, scored[s].second, options.lbfgs);
    if (r.converged) ++fit.starts_converged;
    if (std::isfinite(r.value) && r.value < best.value) best = r;
  }
  if (!std::isfinite(best.value)) {
    fit.message = notes.str() + "not fitted: every L-BFGS start failed";
    return fit;
  }
  const VectorXd& x = best.x;
  fit.ok = true;
  fit.A = std::exp(x[P_A]), fit.B = std::exp(x[P_B]), fit.E = std::exp(x[P_E]);
  fit.alpha = x[P_ALPHA], fit.beta = x[P_BETA];
  fit.objective = best.value;
  ArrayXd r;
  huber_objective(pts, ones, delta, x, nullptr, &r);
  fit.residuals.assign(r.data(), r.data() + r.size());
  fit.rmse_log = std::sqrt(r.square().mean());
  fit.max_abs_residual = r.abs().maxCoeff();
  if (fit.alpha <= 0 || fit.beta <= 0)
    notes
        << "alpha or beta is not positive: loss does not fall with that variable over this data. ";
  fit.seconds_fit = seconds_since(t0);

  // Bootstrap: resample points with replacement (as multiplicities), refit from the optimum.
  const auto t1 = std::chrono::steady_clock::now();
  if (options.bootstrap_reps > 0) {
    Rng rng(options.bootstrap_seed);
    std::vector<double> sE, sA, sB, sAlpha, sBeta, sExp;
    ArrayXd w(n);
    for (int rep = 0; rep < options.bootstrap_reps; ++rep) {
      w.setZero();
      for (Eigen::Index k = 0; k < n; ++k) w[Eigen::Index(rng.below(uint64_t(n)))] += 1;
      LbfgsResult rb = minimize_lbfgs(objective_with(w), x, options.lbfgs);
      if (!std::isfinite(rb.value) || !rb.x.allFinite()) continue;
      sA.push_back(std::exp(rb.x[P_A]));
      sB.push_back(std::exp(rb.x[P_B]));
      sE.push_back(std::exp(rb.x[P_E]));
      sAlpha.push_back(rb.x[P_ALPHA]);
      sBeta.push_back(rb.x[P_BETA]);
      sExp.push_back(rb.x[P_BETA] / (rb.x[P_ALPHA] + rb.x[P_BETA]));
    }
    fit.bootstrap_ok = int(sE.size());
    const double lo = (1 - options.ci_level) / 2, hi = 1 - lo;
    auto interval = [&](const std::vector<double>& v) {
      return Interval{quantile(v, lo), quantile(v, hi)};
    };
    fit.E_ci = interval(sE), fit.A_ci = interval(sA), fit.B_ci = interval(sB);
    fit.alpha_ci = interval(sAlpha), fit.beta_ci = interval(sBeta),
    fit.n_exponent_ci = interval(sExp);
    if (fit.bootstrap_ok < options.bootstrap_reps)
      notes << (options.bootstrap_reps - fit.bootstrap_ok) << " of " << options.bootstrap_reps
            << " bootstrap replicates failed. ";
  }
  fit.seconds_bootstrap = seconds_since(t1);
  fit.message = notes.str();
  if (!fit.message.empty() && fit.message.back() == ' ') fit.message.pop_back();
  return fit;
}

ComputeOptimal compute_optimal(const ScalingFit& fit, double C) {
  ComputeOptimal o;
  o.C = C;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!fit.ok || !(fit.alpha > 0) || !(fit.beta > 0) || !(fit.A > 0) || !(fit.B > 0)) {
    o.N = o.D = o.loss = nan;
    return o;
  }
  const double sum = fit.alpha + fit.beta;
  const double G = std::pow(fit.alpha * fit.A / (fit.beta * fit.B), 1.0 / sum);
  o.N = G * std::pow(C / 6.0, fit.beta / sum);
  o.D = std::pow(C / 6.0, fit.alpha / sum) / G;
  o.loss = fit.predict(o.N, o.D);
  return o;
}

}  // namespace tinyfront
