#pragma once

#include <string_view>

namespace booking::console {

// One file of the console, as served.
struct Asset {
  std::string_view path;          // "/", "/console.js", "/console.css"
  std::string_view content_type;  // with its charset
  std::string_view body;
};

// The console's file at `path` ("/index.html" is "/"), or nullptr.
const Asset* FindAsset(std::string_view path);

// The Content-Security-Policy every console file is served with: scripts and styles from this
// origin only (no inline code), calls to this origin only, and no framing.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace booking::console
