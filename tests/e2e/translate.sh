#!/bin/sh
# Id translation seen from the guest: run as root in the guest's /mnt (with
# perm_helper from tests/e2e/perm_helper.c in it) against a daemon started with
#   --translate-uid=squash-guest:1000:2000:3 --translate-uid=host:2000:1001:1
#   --translate-uid=forbid-guest:1003:1
#   --translate-gid=squash-guest:1000:3000:3 --translate-gid=host:3000:1001:1
# Prints one line per case, "CASE NAME RESULT [MODE UID GID]" as the guest sees
# it; translate_test checks them and the host's ids of the same files.
set -u
H=$PWD/perm_helper
[ -x "$H" ] || {
  echo "no $H"
  exit 1
}
rm -rf idmap
mkdir idmap
chmod 1777 idmap
cd idmap || exit 1

as0() { "$H" 0 0 - 022 "$@"; }
c() {
  name=$1 path=$2
  shift 2
  r=$("$@")
  [ "$path" = - ] || r="$r $(as0 stat "$path")"
  echo "CASE $name $r"
}

# Squashed: guest users 1000-1002 all create as host 2000:3000, shown as 1001:1001.
c create_as_1001 f1001 "$H" 1001 1001 - 022 create f1001 0644
c create_as_1002 f1002 "$H" 1002 1002 - 022 create f1002 0644
c mkdir_as_1000 d1000 "$H" 1000 1000 - 022 mkdir d1000 0755
# Not covered by any rule: root stays root.
c create_as_root froot as0 create froot 0644
# Forbidden: guest uid 1003 may do nothing, and nobody may give a file to it.
c create_as_1003 - "$H" 1003 1003 - 022 create f1003 0644
c chown_to_1003 froot as0 chown froot 1003 -1
echo DONE
