#include "common/json_log_formatter.h"

#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"

namespace booking::common {
namespace {

void AppendEscaped(std::string_view text, spdlog::memory_buf_t& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          const char escaped[] = {'\\', 'u', '0', '0', kHex[(c >> 4) & 0xf], kHex[c & 0xf]};
          out.append(escaped, escaped + sizeof(escaped));
        } else {
          out.push_back(c);
        }
    }
  }
}

void AppendField(std::string_view key, std::string_view value, spdlog::memory_buf_t& out) {
  out.append(std::string_view(",\""));
  AppendEscaped(key, out);
  out.append(std::string_view("\":\""));
  AppendEscaped(value, out);
  out.push_back('"');
}

// At `text`'s start, a `key=` whose key is [a-z0-9_]+: returns the key's length, else 0.
size_t KeyLength(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && ((text[n] >= 'a' && text[n] <= 'z') ||
                             (text[n] >= '0' && text[n] <= '9') || text[n] == '_')) {
    ++n;
  }
  return n > 0 && n < text.size() && text[n] == '=' ? n : 0;
}

// Reads a value at `text`'s start: "quoted, with \" escapes" or up to the next space.
std::string ReadValue(std::string_view& text) {
  std::string value;
  if (!text.empty() && text[0] == '"') {
    size_t i = 1;
    for (; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        // LogValue writes control bytes as \xHH: the JSON value gets the byte back (escaped).
        int byte = 0;
        if (text[i] == 'x' && i + 2 < text.size() &&
            absl::SimpleHexAtoi(std::string(text.substr(i + 1, 2)), &byte)) {
          value.push_back(static_cast<char>(byte));
          i += 2;
          continue;
        }
      }
      value.push_back(text[i]);
    }
    text.remove_prefix(std::min(text.size(), i + 1));
    return value;
  }
  const size_t end = std::min(text.find(' '), text.size());
  value.assign(text.substr(0, end));
  text.remove_prefix(end);
  return value;
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const absl::Time time = absl::FromChrono(msg.time);
  dest.append(std::string_view("{\"time\":\""));
  dest.append(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone()));
  dest.append(std::string_view("\",\"level\":\""));
  const auto level = spdlog::level::to_string_view(msg.level);
  dest.append(level.data(), level.data() + level.size());
  dest.append(std::string_view("\",\"thread\":"));
  dest.append(std::to_string(msg.thread_id));

  std::string_view text(msg.payload.data(), msg.payload.size());
  std::string message;
  std::string fields_json;
  spdlog::memory_buf_t fields;
  while (!text.empty()) {
    if (text[0] == ' ') {
      text.remove_prefix(1);
      continue;
    }
    if (const size_t key_length = KeyLength(text); key_length > 0) {
      std::string key(text.substr(0, key_length));
      // A pair never overwrites the record's own fields (JSON keys must be unique).
      if (key == "time" || key == "level" || key == "thread" || key == "message") key += "_field";
      text.remove_prefix(key_length + 1);
      AppendField(key, ReadValue(text), fields);
      continue;
    }
    const size_t end = std::min(text.find(' '), text.size());
    if (!message.empty()) message.push_back(' ');
    message.append(text.substr(0, end));
    text.remove_prefix(end);
  }
  AppendField("message", message, dest);
  dest.append(fields.data(), fields.data() + fields.size());
  dest.append(std::string_view("}\n"));
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

}  // namespace booking::common
