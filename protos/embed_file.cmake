# cmake -DIN=<file> -DOUT=<file.cc> -DNAME=<symbol> -P embed_file.cmake: writes a C++ source
# holding IN's bytes as `extern const std::string_view <NAME>`, so a binary carries the file.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
string(REGEX REPLACE "(([^,]*,){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "// Generated from ${IN} by embed_file.cmake; do not edit.\n#include <string_view>\n\n"
  "namespace {\nconstexpr char kBytes[] = {\n${bytes}};\n}  // namespace\n\n"
  "extern const std::string_view ${NAME};\n"
  "const std::string_view ${NAME}(kBytes, sizeof kBytes);\n")
