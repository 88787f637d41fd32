#include "tinyfront/slurm/batch_script.hpp"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <regex>
#include <sstream>

#include "option_error.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"

namespace tinyfront::slurm {

namespace {
bool plain_char(unsigned char c) {
  return std::isalnum(c) || std::strchr("_./:=@%+-,", c);
}
}  // namespace

std::string shell_quote(const std::string& s) {
  bool plain = !s.empty();
  for (unsigned char c : s)
    if (!plain_char(c)) plain = false;
  if (plain) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

void refuse_control_characters(const std::string& name, const TemplateValue& v) {
  for (unsigned char ch : v.text)
    if (ch < 0x20 || ch == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "0x%02x", ch);
      throw option_error(v.option.empty() ? name : v.option,
                         std::string("contains the control character ") + code +
                             " (a newline, tab, ...), which cannot go into a batch script");
    }
}

std::string sbatch_quote(const std::string& name, const TemplateValue& v) {
  bool plain = true;
  for (unsigned char c : v.text) {
    if (c == '"' || c == '\\')
      throw option_error(
          v.option.empty() ? name : v.option,
          "contains '" + std::string(1, char(c)) + "', which cannot go into an #SBATCH line");
    if (!plain_char(c)) plain = false;
  }
  return plain ? v.text : "\"" + v.text + "\"";
}

std::string fill_template(const std::string& text,
                          const std::map<std::string, TemplateValue>& values,
                          const std::string& template_path) {
  static const std::regex ph(R"(\{\{([A-Z0-9_]+)\}\})");
  std::istringstream in(text);
  std::ostringstream out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const bool sbatch = line.rfind("#SBATCH", 0) == 0;
    const bool comment = !sbatch && line.find_first_not_of(" \t") != std::string::npos &&
                         line[line.find_first_not_of(" \t")] == '#';
    if (comment) {
      out << line << "\n";
      continue;
    }
    std::string result;
    bool any = false, all_empty = true;
    auto begin = std::sregex_iterator(line.begin(), line.end(), ph);
    size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1].str();
      auto v = values.find(name);
      if (v == values.end())
        throw Error(template_path + ":" + std::to_string(lineno) + ": unknown placeholder {{" +
                    name + "}}");
      any = true;
      if (!v->second.text.empty()) all_empty = false;
      refuse_control_characters(name, v->second);
      result += line.substr(last, size_t(it->position()) - last);
      if (sbatch)
        result += sbatch_quote(name, v->second);
      else if (v->second.words)
        result += v->second.text;
      else
        result += v->second.text.empty() ? "''" : shell_quote(v->second.text);
      last = size_t(it->position() + it->length());
    }
    result += line.substr(last);
    if (sbatch && any && all_empty) result = "#" + result + "   # (not set)";
    out << result << "\n";
  }
  return out.str();
}

std::string mark_generated(const std::string& script, const std::string& template_path) {
  refuse_control_characters("TEMPLATE", {template_path, false, "--template"});
  std::string text = script;
  const std::string note = std::string(kGeneratedMark) + " from " + template_path + "\n";
  const size_t nl = text.rfind("#!", 0) == 0 ? text.find('\n') + 1 : 0;
  text.insert(nl, note);
  return text;
}

bool is_generated_script(const std::string& path) {
  std::string head;
  try {
    head = read_regular_file(path, "batch script").substr(0, 4096);
  } catch (const Error&) {
    return false;
  }
  return head.find(std::string("\n") + kGeneratedMark) != std::string::npos ||
         head.rfind(kGeneratedMark, 0) == 0;
}

}  // namespace tinyfront::slurm
