#include "console/assets.h"

#include <array>

namespace booking::console {
namespace {

// The files' bytes, from xxd -i at build time (console/CMakeLists.txt).
constexpr unsigned char kIndexHtml[] = {
#include "index.html.inc"
};
constexpr unsigned char kConsoleJs[] = {
#include "console.js.inc"
};
constexpr unsigned char kConsoleCss[] = {
#include "console.css.inc"
};

template <size_t N>
constexpr std::string_view View(const unsigned char (&bytes)[N]) {
  return {reinterpret_cast<const char*>(bytes), N};
}

const std::array<Asset, 3>& Assets() {
  static const std::array<Asset, 3> assets = {{
      {"/", "text/html; charset=utf-8", View(kIndexHtml)},
      {"/console.js", "text/javascript; charset=utf-8", View(kConsoleJs)},
      {"/console.css", "text/css; charset=utf-8", View(kConsoleCss)},
  }};
  return assets;
}

}  // namespace

const Asset* FindAsset(std::string_view path) {
  if (path == "/index.html") path = "/";
  for (const Asset& asset : Assets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace booking::console
