// A TCP proxy for tests of dead networks: tcp_proxy <listen_port> <upstream_port> forwards every
// connection on 127.0.0.1:<listen_port> to 127.0.0.1:<upstream_port>. Frozen with SIGSTOP it is
// a network that went silent: the kernel still accepts and acknowledges, nothing gets through.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

// Copies one direction until either side closes, then closes the other direction too.
void Pump(int from, int to) {
  char buffer[64 * 1024];
  while (true) {
    const ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n <= 0) break;
    ssize_t sent = 0;
    while (sent < n) {
      const ssize_t m = ::send(to, buffer + sent, n - sent, MSG_NOSIGNAL);
      if (m <= 0) {
        sent = -1;
        break;
      }
      sent += m;
    }
    if (sent < 0) break;
  }
  ::shutdown(to, SHUT_RDWR);
  ::shutdown(from, SHUT_RDWR);
}

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

}  // namespace

int main(int argc, char** argv) {
  // Flags (--...) are ignored: the tests' process launcher adds the server's.
  std::vector<int> ports;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--", 2) != 0) ports.push_back(std::atoi(argv[i]));
  }
  if (ports.size() != 2) {
    std::fprintf(stderr, "usage: tcp_proxy <listen_port> <upstream_port>\n");
    return 2;
  }
  const int listen_port = ports[0];
  const int upstream_port = ports[1];
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address = Loopback(listen_port);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 128) != 0) {
    std::perror("tcp_proxy: listen");
    return 1;
  }
  std::printf("tcp_proxy listening on %d, forwarding to %d\n", listen_port, upstream_port);
  std::fflush(stdout);
  while (true) {
    const int client = ::accept(listener, nullptr, nullptr);
    if (client < 0) continue;
    const int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in target = Loopback(upstream_port);
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
      ::close(client);
      ::close(upstream);
      continue;
    }
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Both threads shut both sockets down when done; the descriptors leak until exit, which is
    // fine for a test helper that lives for one test.
    std::thread(Pump, client, upstream).detach();
    std::thread(Pump, upstream, client).detach();
  }
}
