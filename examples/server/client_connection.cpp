#include "client_connection.h"

#include <dirent.h>
#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

namespace ossrt_server {
namespace {

// An address as httplib writes it into a Request (numeric host, port).
struct Endpoint {
  std::string host;
  int port = -1;
};

bool endpoint_of(const sockaddr_storage& address, socklen_t length, Endpoint& out) {
  if (address.ss_family != AF_INET && address.ss_family != AF_INET6) return false;
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  out.host = host;
  out.port = std::atoi(port);
  return true;
}

// Whether `fd` is a TCP socket connected from `remote` to `local`.
bool connects(int fd, const Endpoint& local, const Endpoint& remote) {
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) return false;
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  Endpoint found;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 || !endpoint_of(address, length, found) ||
      found.port != remote.port || found.host != remote.host) {
    return false;
  }
  length = sizeof address;
  return getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 && endpoint_of(address, length, found) &&
         found.port == local.port && found.host == local.host;
}

}  // namespace

ClientConnection ClientConnection::of(const httplib::Request& request) {
  const Endpoint local{request.local_addr, request.local_port}, remote{request.remote_addr, request.remote_port};
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return ClientConnection(-1);
  int found = -1;
  while (const dirent* entry = readdir(fds)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dirfd(fds)) continue;
    if (connects(static_cast<int>(fd), local, remote)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(fds);
  return ClientConnection(found);
}

bool ClientConnection::gone() const {
  if (socket_ < 0) return false;
  char byte;
  const ssize_t peeked = recv(socket_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (peeked > 0) return false;
  if (peeked == 0) return true;  // the client closed its side
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace ossrt_server
