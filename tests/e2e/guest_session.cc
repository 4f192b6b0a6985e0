#include "tests/e2e/guest_session.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/e2e/harness.h"

namespace virtiofsd::e2e {
namespace {

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = readdir(dir)) names.push_back(entry->d_name);
  closedir(dir);
  return names;
}

void WriteAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << contents;
  }
  rename(tmp.c_str(), path.c_str());
}

}  // namespace

GuestSessionResult RunGuestSession(const GuestSessionOptions& options, const HostHandler& handler) {
  GuestSessionResult result;
  const std::string sync = options.share + "/.sync";
  mkdir(sync.c_str(), 0777);
  chmod(sync.c_str(), 0777);
  mkdir(options.logs.c_str(), 0755);
  const std::string stderr_file = options.logs + "/run_guest.stderr";
  const std::string command = absl::StrCat(
      ShellQuote(Runfile("tools/guest/run_guest.sh")), " --daemon ", ShellQuote(options.daemon),
      " --shared-dir ", ShellQuote(options.share), " --script ", ShellQuote(options.script),
      " --guest-dir ", ShellQuote(GuestDir()), " --timeout ", options.timeout_seconds, " --log ",
      ShellQuote(options.logs), " ", options.extra_args, " 2>", ShellQuote(stderr_file));
  std::atomic<bool> done = false;
  std::thread guest([&] {
    result.output = RunShell(command, result.status);
    done = true;
  });
  std::set<std::string> answered;
  // One last pass after the guest is gone answers nothing new but costs nothing.
  while (!done) {
    std::vector<std::string> names = ListDir(sync);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (!absl::StartsWith(name, "req-") || absl::EndsWith(name, ".tmp")) continue;
      if (!answered.insert(name).second) continue;
      std::string request = ReadFile(sync + "/" + name);
      absl::StripTrailingAsciiWhitespace(&request);
      const std::string answer = handler(request);
      result.requests++;
      WriteAtomically(sync + "/ack-" + name.substr(4), answer);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  guest.join();
  result.log = ReadFile(stderr_file);
  return result;
}

std::string RunInDir(const std::string& dir, const std::string& command) {
  int status;
  const std::string output =
      RunShell(absl::StrCat("cd ", ShellQuote(dir), " && { ", command, "; } 2>&1"), status);
  return absl::StrCat(status, "\n", output);
}

namespace {

// "Name:\t value" from /proc/PID/status, or -1.
long StatusField(const std::string& status, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    line = line.substr(0, line.find(' '));
    long value;
    if (absl::SimpleAtoi(line, &value)) return value;
  }
  return -1;
}

}  // namespace

DaemonFootprint MeasureDaemon(const std::string& share) {
  // Every process: its parent, and whether it is a launcher serving `share`.
  std::map<int, int> parent;
  std::set<int> ours;
  for (const std::string& name : ListDir("/proc")) {
    int pid;
    if (!absl::SimpleAtoi(name, &pid)) continue;
    const std::string dir = "/proc/" + name;
    parent[pid] = static_cast<int>(StatusField(ReadFile(dir + "/status"), "PPid"));
    std::string cmdline = ReadFile(dir + "/cmdline");
    std::vector<std::string> args = absl::StrSplit(cmdline, '\0');
    if (args.empty() || !absl::EndsWith(args[0], "/virtiofsd")) continue;
    for (const std::string& arg : args) {
      if (arg == "--shared-dir=" + share || arg == share) ours.insert(pid);
    }
  }
  // Their descendants.
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, ppid] : parent) {
      if (ours.count(ppid) != 0 && ours.insert(pid).second) grew = true;
    }
  }
  DaemonFootprint footprint;
  for (int pid : ours) {
    const std::string dir = absl::StrCat("/proc/", pid);
    const std::string status = ReadFile(dir + "/status");
    if (status.empty()) continue;
    footprint.processes++;
    footprint.rss_kib += StatusField(status, "VmRSS");
    footprint.threads += static_cast<int>(StatusField(status, "Threads"));
    for (const std::string& fd : ListDir(dir + "/fd")) footprint.fds += fd != "." && fd != "..";
  }
  return footprint;
}

std::string ToString(const DaemonFootprint& f) {
  return absl::StrCat(f.processes, " processes, RSS ", f.rss_kib, " KiB, ", f.fds, " fds, ",
                      f.threads, " threads");
}

}  // namespace virtiofsd::e2e
