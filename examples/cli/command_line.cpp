#include "command_line.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace ossrt_cli {
namespace {

std::string dashed(std::string_view name) {
  return concat("--", name);
}

// "--model DIR", "--json".
std::string flag_label(const FlagSpec& flag) {
  if (flag.kind == ValueKind::none) return dashed(flag.name);
  return dashed(flag.name) + " " + flag.value_name;
}

std::vector<std::string_view> split_choices(std::string_view choices) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= choices.size()) {
    size_t bar = choices.find('|', start);
    if (bar == std::string_view::npos) bar = choices.size();
    out.push_back(choices.substr(start, bar - start));
    start = bar + 1;
  }
  return out;
}

// Why `value` is not a valid value of `flag` ("" when it is). `label` is how
// the message names the flag or operand.
std::string value_problem(const FlagSpec& flag, const std::string& label, std::string_view value) {
  const std::string quoted = concat("'", value, "'");
  switch (flag.kind) {
    case ValueKind::none:
    case ValueKind::text:
      return "";
    case ValueKind::count:
    case ValueKind::positive: {
      size_t n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec == std::errc::result_out_of_range) return label + ": " + quoted + " is too large";
      const bool whole = ec == std::errc() && end == value.data() + value.size();
      if (flag.kind == ValueKind::count && !whole) return label + ": " + quoted + " is not a non-negative integer";
      if (flag.kind == ValueKind::positive && (!whole || n == 0))
        return label + ": " + quoted + " is not a positive integer";
      return "";
    }
    case ValueKind::real: {
      double x = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
      if (ec == std::errc::result_out_of_range) return label + ": " + quoted + " is out of range";
      if (ec != std::errc() || end != value.data() + value.size()) return label + ": " + quoted + " is not a number";
      if (!std::isfinite(x)) return label + ": " + quoted + " is not a finite number";
      return "";
    }
    case ValueKind::ids: {
      std::vector<ossrt::TokenId> ids;
      if (parse_ids(value, ids)) return "";
      return label + ": " + quoted + " is not a comma-separated list of token ids";
    }
    case ValueKind::choice: {
      const std::vector<std::string_view> choices = split_choices(flag.value_name);
      if (std::find(choices.begin(), choices.end(), value) != choices.end()) return "";
      std::string message = label + ": " + quoted + " is not one of";
      for (size_t i = 0; i < choices.size(); ++i) message += (i == 0 ? " " : ", ") + std::string(choices[i]);
      if (const std::string close = closest_match(value, choices); !close.empty())
        message += "; did you mean " + close + "?";
      return message;
    }
  }
  return "";
}

// An argument that is a flag, not the value of the flag before it (a value
// starting with "--" is written --name=VALUE).
bool looks_like_flag(std::string_view arg) {
  return (arg.size() > 2 && arg.starts_with("--")) || arg == "-h";
}

// Restricted Damerau-Levenshtein distance: a swap of neighbours counts once
// ("--modle" is one edit from "--model").
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The groups of `spec` in the order their first flag is declared.
std::vector<std::vector<const FlagSpec*>> flag_groups(const CommandSpec& spec) {
  std::vector<std::vector<const FlagSpec*>> groups;
  for (const FlagSpec& flag : spec.flags) {
    if (flag.group == nullptr) continue;
    auto same = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& group) { return std::string_view(group[0]->group) == flag.group; });
    if (same == groups.end())
      groups.push_back({&flag});
    else
      same->push_back(&flag);
  }
  return groups;
}

std::string group_names(const std::vector<const FlagSpec*>& group, const char* separator) {
  std::string out;
  for (size_t i = 0; i < group.size(); ++i) out += (i == 0 ? "" : separator) + dashed(group[i]->name);
  return out;
}

// Why the given flags do not satisfy the groups and the operand ("" when they do).
std::string missing_problem(const CommandSpec& spec, const ParsedFlags& flags) {
  for (const auto& group : flag_groups(spec)) {
    const size_t given = static_cast<size_t>(
        std::count_if(group.begin(), group.end(), [&](const FlagSpec* flag) { return flags.has(flag->name); }));
    if (given == 1) continue;
    if (group.size() == 1) return flag_label(*group[0]) + " is required";
    if (given == 0) return "one of " + group_names(group, ", ") + " is required";
    return group_names(group, ", ") + ": give only one of them";
  }
  if (spec.operand && !flags.has(spec.operand->name)) return std::string(spec.operand->value_name) + " is required";
  return "";
}

}  // namespace

const FlagSpec* ParsedFlags::find(std::string_view name) const {
  for (const FlagSpec& flag : spec_->flags)
    if (name == flag.name) return &flag;
  if (spec_->operand && name == spec_->operand->name) return &*spec_->operand;
  return nullptr;
}

std::optional<std::string> ParsedFlags::text(std::string_view name) const {
  if (auto it = given_.find(name); it != given_.end()) return it->second;
  const FlagSpec* flag = find(name);
  if (flag != nullptr && flag->default_value != nullptr) return std::string(flag->default_value);
  return std::nullopt;
}

std::optional<size_t> ParsedFlags::count(std::string_view name) const {
  const std::optional<std::string> value = text(name);
  size_t n = 0;
  if (!value || !parse_size(*value, n)) return std::nullopt;
  return n;
}

std::optional<double> ParsedFlags::real(std::string_view name) const {
  const std::optional<std::string> value = text(name);
  double x = 0;
  if (!value) return std::nullopt;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), x);
  if (ec != std::errc() || end != value->data() + value->size()) return std::nullopt;
  return x;
}

std::optional<std::vector<ossrt::TokenId>> ParsedFlags::ids(std::string_view name) const {
  const std::optional<std::string> value = text(name);
  std::vector<ossrt::TokenId> out;
  if (!value || !parse_ids(*value, out)) return std::nullopt;
  return out;
}

ParseOutcome parse_command_line(const CommandSpec& spec, int argc, const char* const* argv, int first,
                                ParsedFlags& flags, std::string& error) {
  flags.given_.clear();
  bool help = false, operands_only = false;
  std::string first_problem;  // reported after the scan, so a --help anywhere wins
  auto refuse = [&](std::string problem) {
    if (first_problem.empty()) first_problem = std::move(problem);
  };
  std::vector<std::string_view> names;
  for (const FlagSpec& flag : spec.flags) names.push_back(flag.name);

  for (int i = first; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!operands_only && (arg == "--help" || arg == "-h")) {
      help = true;
    } else if (!operands_only && arg == "--") {
      operands_only = true;
    } else if (operands_only || !arg.starts_with("-") || arg == "-") {
      if (!spec.operand) {
        refuse(concat("unexpected argument '", arg, "'"));
      } else if (flags.has(spec.operand->name)) {
        refuse(concat("one ", spec.operand->value_name, " only: unexpected '", arg, "'"));
      } else if (std::string problem = value_problem(*spec.operand, spec.operand->value_name, arg); !problem.empty()) {
        refuse(std::move(problem));
      } else {
        flags.given_.emplace(spec.operand->name, arg);
      }
    } else if (!arg.starts_with("--")) {
      refuse(std::string(arg) + ": flags start with -- (put -- before an operand that starts with -)");
    } else {
      std::string_view name = arg.substr(2);
      std::optional<std::string_view> value;
      if (const size_t equals = name.find('='); equals != std::string_view::npos) {
        value = name.substr(equals + 1);
        name = name.substr(0, equals);
      }
      const FlagSpec* flag = flags.find(name);
      if (flag == nullptr || (spec.operand && flag == &*spec.operand)) {
        const std::string close = closest_match(name, names);
        refuse(dashed(name) + ": unknown flag" + (close.empty() ? "" : "; did you mean " + dashed(close) + "?"));
        continue;
      }
      if (flags.has(name)) refuse(dashed(name) + " is given twice");
      if (flag->kind == ValueKind::none) {
        if (value) refuse(dashed(name) + " takes no value");
        flags.given_.emplace(name, std::string());
        continue;
      }
      if (!value && i + 1 < argc && !looks_like_flag(argv[i + 1])) value = argv[++i];
      if (!value) {
        refuse(dashed(name) + " needs a value (" + flag->value_name + ")");
      } else if (std::string problem = value_problem(*flag, dashed(name), *value); !problem.empty()) {
        refuse(std::move(problem));
      } else {
        flags.given_.emplace(name, *value);
      }
    }
  }
  if (help) return ParseOutcome::help;
  if (first_problem.empty()) first_problem = missing_problem(spec, flags);
  if (first_problem.empty()) return ParseOutcome::ok;
  error = std::move(first_problem);
  return ParseOutcome::usage_error;
}

std::string synopsis(const CommandSpec& spec) {
  std::string out = spec.name;
  for (const auto& group : flag_groups(spec)) {
    if (group.size() == 1) {
      out += concat(" ", flag_label(*group[0]));
      continue;
    }
    out += " (";
    for (size_t i = 0; i < group.size(); ++i) out += (i == 0 ? "" : " | ") + flag_label(*group[i]);
    out += ")";
  }
  if (std::any_of(spec.flags.begin(), spec.flags.end(), [](const FlagSpec& flag) { return flag.group == nullptr; }))
    out += " [options]";
  if (spec.operand) out += concat(" ", spec.operand->value_name);
  return out;
}

std::string usage(const CommandSpec& spec) {
  std::string out = "usage: ossrt " + synopsis(spec) + "\n" + spec.summary + "\n";
  out += spec.details;
  out += "\n";
  struct Row {
    std::string label, help;
  };
  std::vector<Row> rows;
  if (spec.operand) rows.push_back({spec.operand->value_name, spec.operand->help});
  const auto groups = flag_groups(spec);
  for (const FlagSpec& flag : spec.flags) {
    std::string help = flag.help;
    if (flag.default_value != nullptr) help += std::string(" (default ") + flag.default_value + ")";
    for (const auto& group : groups) {
      if (std::find(group.begin(), group.end(), &flag) == group.end()) continue;
      help += group.size() == 1 ? " (required)" : " (one of " + group_names(group, ", ") + ")";
    }
    rows.push_back({flag_label(flag), help});
  }
  rows.push_back({"-h, --help", "print this help and exit"});
  size_t width = 0;
  for (const Row& row : rows) width = std::max(width, row.label.size());
  for (const Row& row : rows)
    out += "  " + row.label + std::string(width + 2 - row.label.size(), ' ') + row.help + "\n";
  return out;
}

std::string closest_match(std::string_view word, std::span<const std::string_view> candidates) {
  // One edit in a short word, two in a longer one: further is rarely a typo.
  const size_t allowed = word.size() >= 4 ? 2 : 1;
  std::string_view best, only_prefixed;
  size_t best_distance = std::numeric_limits<size_t>::max(), prefixed = 0;
  for (std::string_view candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) best_distance = distance, best = candidate;
    if (word.size() >= 2 && candidate.starts_with(word)) ++prefixed, only_prefixed = candidate;
  }
  if (best_distance <= allowed) return std::string(best);
  if (prefixed == 1) return std::string(only_prefixed);
  return "";
}

int usage_error(const CommandSpec& spec, const std::string& message) {
  std::fprintf(stderr, "ossrt %s: %s\n\n%s", spec.name, message.c_str(), usage(spec).c_str());
  return kExitUsage;
}

std::optional<int> parse_or_exit(const CommandSpec& spec, int argc, const char* const* argv, int first,
                                 ParsedFlags& flags) {
  std::string error;
  switch (parse_command_line(spec, argc, argv, first, flags, error)) {
    case ParseOutcome::ok:
      return std::nullopt;
    case ParseOutcome::help:
      std::fputs(usage(spec).c_str(), stdout);
      return 0;
    case ParseOutcome::usage_error:
      break;
  }
  return usage_error(spec, error);
}

bool parse_size(std::string_view text, size_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_ids(std::string_view text, std::vector<ossrt::TokenId>& out) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    ossrt::TokenId id = 0;
    const auto [end, ec] = std::from_chars(text.data() + start, text.data() + comma, id);
    if (ec != std::errc() || end != text.data() + comma || id < 0) return false;
    out.push_back(id);
    start = comma + 1;
  }
  return !out.empty();
}

std::string join_ids(std::span<const ossrt::TokenId> ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  return out;
}

}  // namespace ossrt_cli
