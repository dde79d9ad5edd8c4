#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace booking::rest {

// A google.api.http path template (google/api/http.proto): literal segments, `*` (one segment),
// `**` (the rest), variables `{field.path}` (one segment) or `{field.path=segments}`, and an
// optional `:verb` at the end.
class PathTemplate {
 public:
  static absl::StatusOr<PathTemplate> Parse(std::string_view text);

  // The variable bindings (field path, percent-decoded value) when `path` (no query string)
  // matches; nullopt otherwise.
  std::optional<std::vector<std::pair<std::string, std::string>>> Match(
      std::string_view path) const;

  const std::vector<std::string>& variable_names() const { return variable_names_; }

  // The template with each variable as `{field.path}` whatever segments it spans, as OpenAPI
  // writes a path: "/v1/{name=shelves/*}:get" is "/v1/{name}:get".
  std::string OpenApiPath() const;

 private:
  enum class Kind { kLiteral, kOne, kRest };
  struct Segment {
    Kind kind;
    std::string literal;
    int variable = -1;  // index into variable_names_, or -1
  };

  std::vector<Segment> segments_;
  std::vector<std::string> variable_names_;
  std::string verb_;
};

// Splits at every `separator` (std::string_view pieces of `text`; Debian's Abseil has its own
// string_view type, so absl::StrSplit does not take these).
std::vector<std::string_view> SplitView(std::string_view text, char separator);

// Decodes %XX escapes; nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space = false);

}  // namespace booking::rest
