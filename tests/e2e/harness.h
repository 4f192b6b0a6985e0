// Small helpers the real-guest tests share: where Bazel put a runfile, the test's
// environment, shell quoting and running, and the "CASE name result" lines that
// guest scripts print (tests/e2e/permissions.sh, translate.sh).

#ifndef VIRTIOFSD_TESTS_E2E_HARNESS_H_
#define VIRTIOFSD_TESTS_E2E_HARNESS_H_

#include <map>
#include <string>

namespace virtiofsd::e2e {

// $name, or `fallback` when it is unset or empty.
std::string Env(const char* name, const std::string& fallback);

// The path of a runfile, e.g. "tests/e2e/perm_helper".
std::string Runfile(const std::string& path);

bool Exists(const std::string& path);

// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);

// `s` as one word for sh.
std::string ShellQuote(const std::string& s);

// Runs `command` with sh: its stdout, and its exit status in `status` (-1 when it
// did not exit normally).
std::string RunShell(const std::string& command, int& status);

// The directory of the test guest's kernel and initramfs ($VIRTIOFSD_GUEST_DIR,
// default /var/cache/virtiofsd-guest), and why a guest cannot boot from it: "" when
// both files are there, else a message naming the missing file and the fix.
std::string GuestDir();
std::string MissingGuest();

// The "CASE name result" lines of a guest script's output, by name; a "DONE" line
// maps "DONE" to "" (the script ran to its end).
std::map<std::string, std::string> ParseCases(const std::string& output);

}  // namespace virtiofsd::e2e

#endif  // VIRTIOFSD_TESTS_E2E_HARNESS_H_
