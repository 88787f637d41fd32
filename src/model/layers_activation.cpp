// The feed-forward activations: ReLU, GELU (exact and tanh forms) (layers.hpp).
#include "tinyfront/model/layers.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <unsupported/Eigen/SpecialFunctions>

#include "layers_detail.hpp"

namespace tinyfront::layers {

using namespace detail;

// ---------------------------------------------------------------------------------------------
// GELU, exact (x Phi(x), Phi through erf) and tanh forms. Floats go through Eigen's vectorised
// rational approximations of erf and tanh (a couple of ulp in float, tests/test_gradients.cpp
// bounds the whole activation against double precision) and its vectorised exp, a packet at a
// time; the tail goes through a padded packet too, so that an element's result does not depend
// on where it sits. Doubles (the gradient checks) use the C library's erf, tanh and exp.
namespace {
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluTanhCubic = 0.044715;

// f(x) and f'(x) of one activation on a packet (or a scalar: Eigen's packet functions take both).
template <typename P>
P gelu_packet(const P& x, Activation act) {
  using namespace Eigen::internal;
  using S = typename unpacket_traits<P>::type;
  const P half = pset1<P>(S(0.5)), one = pset1<P>(S(1));
  if (act == Activation::gelu) {
    const P e = generic_fast_erf_float(pmul(x, pset1<P>(S(kInvSqrt2))));
    return pmul(pmul(half, x), padd(one, e));
  }
  const P x3 = pmul(pmul(x, x), x);
  const P u = pmul(pset1<P>(S(kSqrt2OverPi)), pmadd(pset1<P>(S(kGeluTanhCubic)), x3, x));
  return pmul(pmul(half, x), padd(one, generic_fast_tanh_float(u)));
}
template <typename P>
P gelu_grad_packet(const P& x, Activation act) {
  using namespace Eigen::internal;
  using S = typename unpacket_traits<P>::type;
  const P half = pset1<P>(S(0.5)), one = pset1<P>(S(1));
  if (act == Activation::gelu) {
    const P cdf = pmul(half, padd(one, generic_fast_erf_float(pmul(x, pset1<P>(S(kInvSqrt2))))));
    const P pdf = pmul(pset1<P>(S(kInvSqrt2Pi)), pexp(pmul(pset1<P>(S(-0.5)), pmul(x, x))));
    return pmadd(x, pdf, cdf);
  }
  // 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2), t = tanh(u). 1 - t^2 is taken from
  // s = exp(-2|u|) as 4 s / (1 + s)^2, not from t: near |t| = 1 the subtraction would lose
  // every digit of the approximated t (an error of 3.5e-6 at x = 5). Beyond |x| = 10 the
  // derivative is 0 or 1 to within 1e-20: x is clamped there, so that x^3 cannot overflow.
  const P xc = pmax(pmin(x, pset1<P>(S(10))), pset1<P>(S(-10)));
  const P x2 = pmul(xc, xc);
  const P u = pmul(pset1<P>(S(kSqrt2OverPi)), pmadd(pset1<P>(S(kGeluTanhCubic)), pmul(x2, xc), xc));
  const P s = pexp(pmul(pset1<P>(S(-2)), pabs(u)));
  const P inv = pdiv(one, padd(one, s));
  const P t_abs = pmul(psub(one, s), inv);
  const P t = pselect(pcmp_lt(u, pzero(u)), pnegate(t_abs), t_abs);
  const P sech2 = pmul(pmul(pset1<P>(S(4)), s), pmul(inv, inv));
  const P du = pmul(pset1<P>(S(kSqrt2OverPi)), pmadd(pset1<P>(S(3 * kGeluTanhCubic)), x2, one));
  return pmul(half, padd(padd(one, t), pmul(xc, pmul(sech2, du))));
}

double gelu_scalar(double x, Activation act) {
  if (act == Activation::gelu) return 0.5 * x * (1 + std::erf(x * kInvSqrt2));
  return 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x)));
}
double gelu_grad_scalar(double x, Activation act) {
  if (act == Activation::gelu)
    return 0.5 * (1 + std::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
  const double t = std::tanh(kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x));
  const double du = kSqrt2OverPi * (1 + 3 * kGeluTanhCubic * x * x);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
}

// out[i] = f(in[i]) for i < n, a float packet at a time, the tail through a padded packet.
template <typename F>
void map_packets(float* out, const float* in, long n, F f) {
  using P = Packet<float>;
  constexpr int W = kPacket<float>;
  long i = 0;
  for (; i + W <= n; i += W) pstoreu(out + i, f(ploadu<P>(in + i), i));
  if (i < n) {
    float tin[W] = {}, tout[W];
    std::copy(in + i, in + n, tin);
    pstoreu(tout, f(ploadu<P>(tin), i));
    std::copy(tout, tout + (n - i), out + i);
  }
}
}  // namespace

template <typename S>
void activation_forward(S* out, const S* inp, long n, Activation act) {
  if (act == Activation::relu) {
#pragma omp simd
    for (long i = 0; i < n; ++i) out[i] = inp[i] > S(0) ? inp[i] : S(0);
  } else if constexpr (std::is_same_v<S, float>) {
    map_packets(out, inp, n, [act](const Packet<float>& x, long) { return gelu_packet(x, act); });
  } else {
    for (long i = 0; i < n; ++i) out[i] = S(gelu_scalar(double(inp[i]), act));
  }
}

template <typename S>
void activation_backward(S* dinp, const S* dout, const S* inp, long n, Activation act, Grad mode) {
  const bool add = mode == Grad::add;
  if (act == Activation::relu) {
    // (omp simd: dinp may be dout, element for element, which is no dependence between elements)
#pragma omp simd
    for (long i = 0; i < n; ++i) {
      const S v = inp[i] > S(0) ? dout[i] : S(0);
      dinp[i] = add ? dinp[i] + v : v;
    }
  } else if constexpr (std::is_same_v<S, float>) {
    // f'(x) for the packet of inp, times dout (and plus dinp) of the same elements; the tail's
    // dout and dinp are read and written through the same padding as inp.
    using P = Packet<float>;
    constexpr int W = kPacket<float>;
    long i = 0;
    for (; i + W <= n; i += W) {
      P v = pmul(gelu_grad_packet(ploadu<P>(inp + i), act), ploadu<P>(dout + i));
      if (add) v = Eigen::internal::padd(v, ploadu<P>(dinp + i));
      pstoreu(dinp + i, v);
    }
    if (i < n) {
      float x[W] = {}, g[W] = {}, d[W] = {};
      std::copy(inp + i, inp + n, x);
      std::copy(dout + i, dout + n, g);
      if (add) std::copy(dinp + i, dinp + n, d);
      P v = pmul(gelu_grad_packet(ploadu<P>(x), act), ploadu<P>(g));
      if (add) v = Eigen::internal::padd(v, ploadu<P>(d));
      pstoreu(d, v);
      std::copy(d, d + (n - i), dinp + i);
    }
  } else {
    for (long i = 0; i < n; ++i) {
      const S v = dout[i] * S(gelu_grad_scalar(double(inp[i]), act));
      dinp[i] = add ? dinp[i] + v : v;
    }
  }
}

// ---------------------------------------------------------------------------------------------
#define TF_INSTANTIATE(S)                                              \
  template void activation_forward<S>(S*, const S*, long, Activation); \
  template void activation_backward<S>(S*, const S*, const S*, long, Activation, Grad);

TF_INSTANTIATE(float)
TF_INSTANTIATE(double)

}  // namespace tinyfront::layers
