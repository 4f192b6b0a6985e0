#include "tests/e2e/harness.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace virtiofsd::e2e {

std::string Env(const char* name, const std::string& fallback) {
  const char* value = getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::string Runfile(const std::string& path) {
  return Env("TEST_SRCDIR", ".") + "/" + Env("TEST_WORKSPACE", "virtiofsd") + "/" + path;
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string RunShell(const std::string& command, int& status) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return output;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int raw = pclose(pipe);
  status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

std::string GuestDir() { return Env("VIRTIOFSD_GUEST_DIR", "/var/cache/virtiofsd-guest"); }

std::string MissingGuest() {
  const std::string guest_dir = GuestDir();
  for (const char* file : {"vmlinuz", "initramfs.cpio.gz"}) {
    if (!Exists(guest_dir + "/" + file)) {
      return absl::StrCat("no test guest: ", guest_dir, "/", file,
                          " is missing. Run tools/guest/prepare.sh (as root, with apt "
                          "access) before the tests, or set VIRTIOFSD_GUEST_DIR.");
    }
  }
  return "";
}

std::map<std::string, std::string> ParseCases(const std::string& output) {
  std::map<std::string, std::string> cases;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line == "DONE") cases["DONE"] = "";
    if (!absl::ConsumePrefix(&line, "CASE ")) continue;
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) continue;
    cases[std::string(line.substr(0, space))] = std::string(line.substr(space + 1));
  }
  return cases;
}

}  // namespace virtiofsd::e2e
