#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace booking::testing {

// A throwaway PKI made with the openssl command for one test: a CA, a server certificate for
// localhost / 127.0.0.1 and a client certificate signed by it, and an unrelated second CA.
struct TestCertificates {
  std::string dir;
  std::string ca, server_cert, server_key, client_cert, client_key, other_ca;

  static absl::StatusOr<TestCertificates> Make(const std::string& dir) {
    TestCertificates c{dir,
                       dir + "/ca.pem",
                       dir + "/server.pem",
                       dir + "/server.key",
                       dir + "/client.pem",
                       dir + "/client.key",
                       dir + "/other-ca.pem"};
    std::ofstream(dir + "/server.ext")
        << "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
    std::ofstream(dir + "/client.ext") << "extendedKeyUsage=clientAuth\n";
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string commands[] = {
        absl::StrCat("openssl req -x509 ", key, " -keyout ", dir, "/ca.key -out ", c.ca,
                     " -days 2 -subj /CN=booking-test-ca"),
        absl::StrCat("openssl req -x509 ", key, " -keyout ", dir, "/other-ca.key -out ", c.other_ca,
                     " -days 2 -subj /CN=someone-else"),
        absl::StrCat("openssl req ", key, " -keyout ", c.server_key, " -out ", dir,
                     "/server.csr -subj /CN=localhost"),
        absl::StrCat("openssl x509 -req -in ", dir, "/server.csr -CA ", c.ca, " -CAkey ", dir,
                     "/ca.key -CAcreateserial -days 2 -out ", c.server_cert, " -extfile ", dir,
                     "/server.ext"),
        absl::StrCat("openssl req ", key, " -keyout ", c.client_key, " -out ", dir,
                     "/client.csr -subj /CN=box-office"),
        absl::StrCat("openssl x509 -req -in ", dir, "/client.csr -CA ", c.ca, " -CAkey ", dir,
                     "/ca.key -CAcreateserial -days 2 -out ", c.client_cert, " -extfile ", dir,
                     "/client.ext"),
    };
    for (const std::string& command : commands) {
      if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
        return absl::InternalError(absl::StrCat("failed: ", command));
      }
    }
    return c;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }
};

}  // namespace booking::testing
