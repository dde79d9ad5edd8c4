#include "rest/path_template.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace booking::rest {
namespace {

bool IsLiteralChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~' || c == '%';
}

bool IsFieldPath(std::string_view path) {
  if (path.empty() || path.front() == '.' || path.back() == '.') return false;
  for (char c : path) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::vector<std::string_view> SplitView(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(separator, start);
    if (at == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<PathTemplate> PathTemplate::Parse(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("path template \"", std::string(text), "\": ", std::string(why)));
  };
  if (text.empty() || text.front() != '/') return invalid("must start with /");
  PathTemplate result;
  std::string_view rest = text.substr(1);
  // The verb is after the last ':' that is not inside a variable.
  int depth = 0;
  size_t verb_at = std::string_view::npos;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '{') ++depth;
    if (rest[i] == '}') --depth;
    if (rest[i] == ':' && depth == 0) verb_at = i;
  }
  if (verb_at != std::string_view::npos) {
    result.verb_ = std::string(rest.substr(verb_at + 1));
    if (result.verb_.empty()) return invalid("empty verb");
    rest = rest.substr(0, verb_at);
  }
  size_t i = 0;
  auto add_plain = [&](std::string_view segment, int variable) -> absl::Status {
    if (segment == "**") {
      result.segments_.push_back({Kind::kRest, "", variable});
    } else if (segment == "*") {
      result.segments_.push_back({Kind::kOne, "", variable});
    } else {
      if (segment.empty()) return invalid("empty segment");
      for (char c : segment) {
        if (!IsLiteralChar(c))
          return invalid(absl::StrCat("bad character '", std::string(1, c), "'"));
      }
      result.segments_.push_back({Kind::kLiteral, std::string(segment), variable});
    }
    return absl::OkStatus();
  };
  while (i <= rest.size()) {
    if (i < rest.size() && rest[i] == '{') {
      const size_t close = rest.find('}', i);
      if (close == std::string_view::npos) return invalid("unclosed {");
      const std::string_view inside = rest.substr(i + 1, close - i - 1);
      const size_t eq = inside.find('=');
      const std::string_view name = inside.substr(0, eq);
      if (!IsFieldPath(name)) return invalid("bad variable name");
      const int variable = static_cast<int>(result.variable_names_.size());
      result.variable_names_.emplace_back(name);
      if (eq == std::string_view::npos) {
        result.segments_.push_back({Kind::kOne, "", variable});
      } else {
        for (std::string_view part : SplitView(inside.substr(eq + 1), '/')) {
          if (absl::Status status = add_plain(part, variable); !status.ok()) return status;
        }
      }
      i = close + 1;
    } else {
      const size_t slash = rest.find('/', i);
      const std::string_view segment =
          rest.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
      if (segment.find_first_of("{}") != std::string_view::npos) return invalid("misplaced brace");
      if (absl::Status status = add_plain(segment, -1); !status.ok()) return status;
      i += segment.size();
    }
    if (i == rest.size()) break;
    if (rest[i] != '/') return invalid("expected /");
    ++i;
  }
  for (size_t s = 0; s + 1 < result.segments_.size(); ++s) {
    if (result.segments_[s].kind == Kind::kRest) return invalid("** must be the last segment");
  }
  return result;
}

std::optional<std::vector<std::pair<std::string, std::string>>> PathTemplate::Match(
    std::string_view path) const {
  if (path.empty() || path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  if (!verb_.empty()) {
    const std::string suffix = absl::StrCat(":", verb_);
    if (path.size() < suffix.size() || path.substr(path.size() - suffix.size()) != suffix) {
      return std::nullopt;
    }
    path.remove_suffix(suffix.size());
  }
  std::vector<std::string_view> parts = SplitView(path, '/');
  std::vector<std::vector<std::string>> captured(variable_names_.size());
  size_t p = 0;
  for (const Segment& segment : segments_) {
    if (segment.kind == Kind::kRest) {
      for (; p < parts.size(); ++p) {
        if (segment.variable >= 0) captured[segment.variable].emplace_back(parts[p]);
      }
      break;
    }
    if (p >= parts.size() || parts[p].empty()) return std::nullopt;
    if (segment.kind == Kind::kLiteral && parts[p] != segment.literal) return std::nullopt;
    if (segment.variable >= 0) captured[segment.variable].emplace_back(parts[p]);
    ++p;
  }
  if (p != parts.size()) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> bindings;
  for (size_t v = 0; v < variable_names_.size(); ++v) {
    std::optional<std::string> value = PercentDecode(absl::StrJoin(captured[v], "/"));
    if (!value) return std::nullopt;
    bindings.emplace_back(variable_names_[v], *std::move(value));
  }
  return bindings;
}

std::string PathTemplate::OpenApiPath() const {
  std::string out;
  for (size_t s = 0; s < segments_.size(); ++s) {
    const Segment& segment = segments_[s];
    if (segment.variable >= 0) {
      // A variable's segments are consecutive: it is written once, at its first.
      if (s > 0 && segments_[s - 1].variable == segment.variable) continue;
      absl::StrAppend(&out, "/{", variable_names_[segment.variable], "}");
      continue;
    }
    absl::StrAppend(&out, "/",
                    segment.kind == Kind::kLiteral ? segment.literal
                    : segment.kind == Kind::kOne   ? std::string("*")
                                                   : std::string("**"));
  }
  if (out.empty()) out = "/";
  if (!verb_.empty()) absl::StrAppend(&out, ":", verb_);
  return out;
}

}  // namespace booking::rest
