#include "tests/bench/process_tree.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace virtiofsd::bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

// The fields of /proc/PID/stat after the ")" that ends the command name (which
// may itself hold spaces and parentheses): field 3 (state) is index 0.
std::vector<std::string> StatFields(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t end = stat.rfind(')');
  if (end == std::string::npos) return {};
  return absl::StrSplit(absl::string_view(stat).substr(end + 1), ' ', absl::SkipEmpty());
}

// The number in the line "KEY:   N kB" of a /proc status-like file; 0 if absent.
uint64_t Field(const std::string& text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    uint64_t value = 0;
    if (absl::SimpleAtoi(line, &value)) return value;
  }
  return 0;
}

bool Read(pid_t pid, ProcessUsage* usage) {
  const std::vector<std::string> fields = StatFields(pid);
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  uint64_t utime = 0, stime = 0;
  // utime and stime are fields 14 and 15 of stat(5).
  if (fields.size() < 13 || status.empty() || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return false;
  }
  usage->pid = pid;
  // The executable's name from argv[0]; comm is cut at 15 characters.
  const std::string cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  const std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
  usage->name = argv0.empty() ? std::string(absl::StripTrailingAsciiWhitespace(
                                    ReadFile(absl::StrCat("/proc/", pid, "/comm"))))
                              : argv0.substr(argv0.rfind('/') + 1);
  usage->rss_kib = Field(status, "VmRSS");
  usage->threads = static_cast<int>(Field(status, "Threads"));
  usage->pss_kib = Field(ReadFile(absl::StrCat("/proc/", pid, "/smaps_rollup")), "Pss");
  usage->cpu_seconds = static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
  return true;
}

}  // namespace

absl::StatusOr<std::vector<ProcessUsage>> ReadProcessTree(pid_t root) {
  std::multimap<pid_t, pid_t> children;  // parent -> child
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      pid_t pid = 0, parent = 0;
      if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
      const std::vector<std::string> fields = StatFields(pid);
      if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &parent)) children.emplace(parent, pid);
    }
    closedir(proc);
  }
  std::vector<ProcessUsage> tree;
  ProcessUsage usage;
  if (!Read(root, &usage)) return absl::NotFoundError(absl::StrCat("no process ", root));
  tree.push_back(usage);
  std::vector<pid_t> todo = {root};
  std::vector<pid_t> descendants;
  while (!todo.empty()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    auto [begin, end] = children.equal_range(parent);
    for (auto it = begin; it != end; ++it) {
      descendants.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  std::sort(descendants.begin(), descendants.end());
  for (pid_t pid : descendants) {
    if (Read(pid, &usage)) tree.push_back(usage);
  }
  return tree;
}

double TotalCpuSeconds(const std::vector<ProcessUsage>& tree) {
  double total = 0;
  for (const ProcessUsage& usage : tree) total += usage.cpu_seconds;
  return total;
}

}  // namespace virtiofsd::bench
