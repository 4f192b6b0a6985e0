// Test helpers around testing/fake_child.cc: where the test's runfiles are, and
// the report a fake child writes about what the launcher gave it.

#ifndef VIRTIOFSD_LAUNCHER_TESTING_CHILD_REPORT_H_
#define VIRTIOFSD_LAUNCHER_TESTING_CHILD_REPORT_H_

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace virtiofsd::testing {

// The path of a runfile of this workspace, e.g. Runfile("launcher/virtiofsd").
inline std::string Runfile(const std::string& relative) {
  const char* root = getenv("TEST_SRCDIR");
  return std::string(root ? root : ".") + "/virtiofsd/" + relative;
}

// A fresh directory in /tmp, not TEST_TMPDIR: a socket path must fit in 108
// bytes. Remove it with RemoveTempDir().
inline std::string MakeTempDir() {
  std::string pattern = "/tmp/launcher_test.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) abort();
  return pattern;
}

inline void RemoveTempDir(const std::string& dir) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

// A listening AF_UNIX stream socket on an autobound abstract address.
inline UniqueFd AbstractListener() {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sa_family_t family = AF_UNIX;
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&family), sizeof(family)) != 0 ||
      listen(fd.get(), 1) != 0) {
    abort();
  }
  return fd;
}

// The lines of <dir>/<role>.report, waiting up to 10 s for the file to appear;
// empty if it never does.
inline std::vector<std::string> WaitForReport(const std::string& dir, const std::string& role) {
  const std::string path = dir + "/" + role + ".report";
  for (int i = 0; i < 1000 && access(path.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The values of the report lines "key value" for `key`, in order.
inline std::vector<std::string> ReportValues(const std::vector<std::string>& lines,
                                             const std::string& key) {
  std::vector<std::string> values;
  for (const std::string& line : lines) {
    if (line.rfind(key + " ", 0) == 0) values.push_back(line.substr(key.size() + 1));
  }
  return values;
}

}  // namespace virtiofsd::testing

#endif  // VIRTIOFSD_LAUNCHER_TESTING_CHILD_REPORT_H_
