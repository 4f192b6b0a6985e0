// A test-only stand-in for virtiofsd-frontend and virtiofsd-broker, so the
// launcher's supervision can be tested before (and independently of) the real
// children. Its role is "frontend" when fd 4 is a listening socket, else "broker".
//
// It writes what it was given to $FAKE_CHILD_REPORT_DIR/<role>.report (one
// "key value" per line: each argument, each open fd, each field of the
// configuration on fd 6 as "config NAME: VALUE" (text format; "config_error
// WHY" if it does not read), whether fd 3 is a
// SOCK_SEQPACKET socket and fd 4 a listening socket, its process group, signal
// mask and uid), then behaves as $FAKE_<ROLE>_MODE says:
//   wait (default)  run until SIGTERM (exit 0) or until the channel's peer closes
//                   (broker: exit 0, the frontend is gone; frontend: exit 1)
//   serve           frontend: accept one connection on fd 4 and, as the real
//                   frontend does, serve it until the VMM closes it, even once the
//                   channel's peer is gone; then exit 0, or 1 if the peer had gone
//                   (else as wait)
//   stubborn        ignore SIGTERM (only SIGKILL ends it)
//   exit:N          exit N at once

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common/child_config.h"
#include "google/protobuf/text_format.h"
#include "proto/config.pb.h"

namespace {

// The configuration of `role`, one "config FIELD: VALUE" line per field.
std::string ConfigLines(const std::string& role) {
  virtiofsd::proto::BrokerConfig broker;
  virtiofsd::proto::FrontendConfig frontend;
  google::protobuf::Message& config =
      role == "frontend" ? static_cast<google::protobuf::Message&>(frontend) : broker;
  absl::Status read = virtiofsd::ReadConfig(virtiofsd::kChildConfigFd, config);
  if (!read.ok()) return "config_error " + std::string(read.message()) + "\n";
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  std::string lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines += "config " + text.substr(start, end - start) + "\n";
  }
  return lines;
}

bool SocketOption(int fd, int option, int expected) {
  int value = 0;
  socklen_t len = sizeof(value);
  return getsockopt(fd, SOL_SOCKET, option, &value, &len) == 0 && value == expected;
}

// Our pid in the PID namespace /proc belongs to (the first field of NSpid).
std::string OuterPid() {
  FILE* status = fopen("/proc/self/status", "r");
  char line[256];
  std::string pid = std::to_string(getpid());
  while (status != nullptr && fgets(line, sizeof(line), status) != nullptr) {
    if (strncmp(line, "NSpid:", 6) == 0) pid = std::to_string(atoi(line + 6));
  }
  if (status != nullptr) fclose(status);
  return pid;
}

void WriteReport(const std::string& role, int argc, char** argv) {
  const char* dir = getenv("FAKE_CHILD_REPORT_DIR");
  if (dir == nullptr) return;
  std::string report;
  for (int i = 1; i < argc; ++i) report += std::string("arg ") + argv[i] + "\n";
  DIR* fds = opendir("/proc/self/fd");
  const int own = dirfd(fds);
  while (dirent* entry = readdir(fds)) {
    if (entry->d_name[0] == '.' || atoi(entry->d_name) == own) continue;
    report += std::string("fd ") + entry->d_name + "\n";
  }
  closedir(fds);
  report += ConfigLines(role);
  report += "channel_seqpacket " + std::to_string(SocketOption(3, SO_TYPE, SOCK_SEQPACKET)) + "\n";
  report += "fd4_listening " + std::to_string(SocketOption(4, SO_ACCEPTCONN, 1)) + "\n";
  report += "own_process_group " + std::to_string(getpgrp() == getpid()) + "\n";
  sigset_t mask;
  sigprocmask(SIG_SETMASK, nullptr, &mask);
  report += "signals_blocked " + std::to_string(!sigisemptyset(&mask)) + "\n";
  report += "uid " + std::to_string(getuid()) + "\n";
  // As the test sees it: the frontend is pid 1 of a PID namespace of its own.
  report += "pid " + OuterPid() + "\n";

  const std::string path = std::string(dir) + "/" + role + ".report";
  const std::string tmp = path + ".tmp";
  FILE* out = fopen(tmp.c_str(), "w");
  if (out == nullptr) return;
  fputs(report.c_str(), out);
  fclose(out);
  rename(tmp.c_str(), path.c_str());  // appears whole, so a test can wait for it
}

}  // namespace

int main(int argc, char** argv) {
  const std::string role = SocketOption(4, SO_ACCEPTCONN, 1) ? "frontend" : "broker";
  WriteReport(role, argc, argv);
  const std::string mode_env = role == "frontend" ? "FAKE_FRONTEND_MODE" : "FAKE_BROKER_MODE";
  const char* mode_value = getenv(mode_env.c_str());
  const std::string mode = mode_value ? mode_value : "wait";
  if (mode.rfind("exit:", 0) == 0) return atoi(mode.c_str() + 5);

  if (mode == "stubborn") {
    signal(SIGTERM, SIG_IGN);
    for (;;) pause();
  }
  signal(SIGTERM, [](int) { _exit(0); });
  int connection = -1;
  if (mode == "serve" && role == "frontend") connection = accept4(4, nullptr, nullptr, 0);
  bool peer_gone = false;
  for (;;) {
    pollfd fds[] = {{peer_gone ? -1 : 3, POLLIN, 0}, {connection, POLLIN, 0}};
    if (poll(fds, connection >= 0 ? 2 : 1, -1) < 0) continue;
    char byte;
    if (fds[0].revents != 0 && recv(3, &byte, 1, MSG_DONTWAIT) == 0) {
      if (connection < 0) return role == "broker" ? 0 : 1;  // the channel's peer is gone
      peer_gone = true;
    }
    if (connection >= 0 && fds[1].revents != 0 && read(connection, &byte, 1) <= 0) {
      return peer_gone ? 1 : 0;
    }
  }
}
