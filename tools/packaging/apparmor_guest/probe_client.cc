// A vhost-user-fs client for the AppArmor guest test (apparmor_guest_test.sh): plays
// QEMU and the guest's driver against the daemon at argv[1] with the test driver,
// and does one round of a guest's work: INIT, CREATE, WRITE, READ back, LOOKUP.
// Prints "PROBE-OK" and exits 0 when every step gave the expected answer; else
// prints the failing step and exits 1.

#include <fcntl.h>
#include <stdio.h>

#include <string>

#include "tests/driver/fuse_client.h"
#include "tests/driver/vhost_user_fs_driver.h"

namespace virtiofsd::driver {
namespace {

int Fail(const char* step, const absl::Status& status) {
  fprintf(stderr, "probe_client: %s: %s\n", step, std::string(status.message()).c_str());
  return 1;
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: probe_client SOCKET\n");
    return 2;
  }
  auto driver = VhostUserFsDriver::Connect(argv[1]);
  if (!driver.ok()) return Fail("connect", driver.status());
  FuseClient fuse(driver->get());
  if (auto init = fuse.Init(); !init.ok()) return Fail("INIT", init.status());
  auto created = fuse.Create(FUSE_ROOT_ID, "probe", O_RDWR, 0644);
  if (!created.ok()) return Fail("CREATE", created.status());
  const uint64_t node = created->entry.nodeid;
  const uint64_t fh = created->open.fh;
  const std::string data = "written through the confined daemon\n";
  if (auto n = fuse.Write(node, fh, 0, data); !n.ok() || *n != data.size()) {
    return Fail("WRITE", n.ok() ? absl::DataLossError("short write") : n.status());
  }
  auto read = fuse.Read(node, fh, 0, 4096);
  if (!read.ok() || *read != data) {
    return Fail("READ", read.ok() ? absl::DataLossError("other bytes") : read.status());
  }
  if (auto status = fuse.Release(node, fh); !status.ok()) return Fail("RELEASE", status);
  if (auto entry = fuse.Lookup(FUSE_ROOT_ID, "probe"); !entry.ok()) {
    return Fail("LOOKUP", entry.status());
  }
  printf("PROBE-OK\n");
  return 0;
}

}  // namespace
}  // namespace virtiofsd::driver

int main(int argc, char** argv) { return virtiofsd::driver::Main(argc, argv); }
