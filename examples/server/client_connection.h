// The TCP connection a request came in on, watched for the client leaving.
//
// Why: cpp-httplib 0.11 (Debian's) tells a handler nothing about its socket.
// A streamed reply finds a departed client only when a write fails, the
// second write after the close (about 2 probes, 100 ms); a non-streamed reply
// writes nothing until the generation ends, so it would run to its last token
// for nobody. The connection is found once, among the process's sockets, by
// the request's local and remote addresses (a TCP connection's identity);
// gone() then peeks at it without reading: an orderly close (end of stream)
// or a reset means the client has left. A client waiting for its answer sends
// nothing, so a peek that finds bytes (a pipelined request) means it is still
// there.
//
// Where the socket cannot be found (no /proc/self/fd, a Unix socket), gone()
// stays false: the request then runs to its end, as before.
//
// Thread rules: use it on the thread that handles the request (httplib keeps
// the socket open until that handler and its content provider return).
#pragma once

#include <string>

namespace httplib {
struct Request;
}

namespace ossrt_server {

class ClientConnection {
 public:
  // The connection `request` arrived on, or an unwatched one.
  static ClientConnection of(const httplib::Request& request);

  // Whether the client has closed or reset the connection. Never blocks.
  bool gone() const;

 private:
  explicit ClientConnection(int socket) : socket_(socket) {}
  int socket_;
};

}  // namespace ossrt_server
