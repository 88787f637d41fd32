#include "tinyfront/run/json_codec.hpp"

#include <cmath>
#include <limits>
#include <string_view>

#include "tinyfront/util/error.hpp"
#include "tinyfront/util/utf8.hpp"

namespace tinyfront {

using nlohmann::json;

namespace {

std::string hex_encode(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(2 * s.size());
  for (unsigned char ch : s) {
    out += d[ch >> 4];
    out += d[ch & 15];
  }
  return out;
}

std::string hex_decode(const std::string& s) {
  auto val = [&](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    throw Error("results store: bad $hex string in JSON");
  };
  if (s.size() % 2) throw Error("results store: bad $hex string in JSON");
  std::string out(s.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = char(val(s[2 * i]) * 16 + val(s[2 * i + 1]));
  return out;
}

// Templated over nlohmann's json and ordered_json (config JSON is ordered).
template <class J>
J armor_any(const J& j) {
  switch (j.type()) {
    case J::value_t::number_float: {
      double d = j.template get<double>();
      if (std::isfinite(d)) return j;
      const char* tag =
          std::isnan(d) ? (std::signbit(d) ? "-nan" : "nan") : (d < 0 ? "-inf" : "inf");
      return J{{"$f", tag}};
    }
    case J::value_t::string: {
      const auto& s = j.template get_ref<const std::string&>();
      if (invalid_utf8_offset(s) == std::string_view::npos) return j;
      return J{{"$hex", hex_encode(s)}};
    }
    case J::value_t::array: {
      J out = J::array();
      for (auto& e : j) out.push_back(armor_any(e));
      return out;
    }
    case J::value_t::object: {
      J out = J::object();
      for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = armor_any(it.value());
      return out;
    }
    default:
      return j;
  }
}

}  // namespace

json armor(const json& j) {
  return armor_any(j);
}

nlohmann::ordered_json armor(const nlohmann::ordered_json& j) {
  return armor_any(j);
}

json unarmor(const json& j) {
  if (j.is_object()) {
    if (j.size() == 1) {
      auto it = j.begin();
      if (it.key() == "$f" && it.value().is_string()) {
        const std::string& t = it.value().get_ref<const std::string&>();
        double inf = std::numeric_limits<double>::infinity();
        if (t == "nan") return std::numeric_limits<double>::quiet_NaN();
        if (t == "-nan") return -std::numeric_limits<double>::quiet_NaN();
        if (t == "inf") return inf;
        if (t == "-inf") return -inf;
        throw Error("results store: bad $f value in JSON: " + t);
      }
      if (it.key() == "$hex" && it.value().is_string())
        return hex_decode(it.value().get_ref<const std::string&>());
    }
    json out = json::object();
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = unarmor(it.value());
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (auto& e : j) out.push_back(unarmor(e));
    return out;
  }
  return j;
}

json number_to_json(double x) {
  return armor(json(x));
}

double number_from_json(const json& j) {
  if (j.is_null()) return std::numeric_limits<double>::quiet_NaN();
  return unarmor(j).get<double>();
}

json curve_to_json(const std::vector<CurvePoint>& curve) {
  json a = json::array();
  for (auto& p : curve)
    a.push_back(
        json::array({p.step, p.tokens, number_to_json(p.train_loss), number_to_json(p.val_loss),
                     number_to_json(p.lr), number_to_json(p.seconds)}));
  return a;
}

std::vector<CurvePoint> curve_from_json(const json& j) {
  std::vector<CurvePoint> out;
  if (!j.is_array()) throw Error("record: a curve is not an array");
  for (auto& e : j) {
    if (!e.is_array() || e.size() != 6) throw Error("record: bad curve point " + e.dump());
    CurvePoint p;
    p.step = e[0].get<int64_t>();
    p.tokens = e[1].get<int64_t>();
    p.train_loss = number_from_json(e[2]);
    p.val_loss = number_from_json(e[3]);
    p.lr = number_from_json(e[4]);
    p.seconds = number_from_json(e[5]);
    out.push_back(p);
  }
  return out;
}

}  // namespace tinyfront
