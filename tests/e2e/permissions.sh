#!/bin/sh
# Permission conformance: runs file operations as several non-root users with
# several supplementary groups and prints one line per case:
#   CASE NAME RESULT [MODE UID GID]
# RESULT is "ok" or the errno's name; MODE UID GID describe the file afterwards.
# Run as root in the directory to test (the guest's /mnt, or a host temp dir for
# the reference answers), with perm_helper (tests/e2e/perm_helper.c) in it.
# guest_test compares the lines of a guest run with those of the host run.
set -u
H=$PWD/perm_helper
[ -x "$H" ] || {
  echo "no $H"
  exit 1
}
rm -rf perm
mkdir perm
chmod 0755 perm
cd perm || exit 1

# uid gid supplementary-groups, umask 022 unless given.
as0() { "$H" 0 0 - 022 "$@"; }
as1() { "$H" 1001 1001 1001,2001,2002 022 "$@"; }
as2() { "$H" 1002 1002 1002,2001 022 "$@"; }
as3() { "$H" 1003 1003 1003 022 "$@"; }
as1_umask027() { "$H" 1001 1001 1001,2001,2002 027 "$@"; }
# mk PATH UID:GID MODE: a file with some data, owned and moded as given.
mk() {
  echo data >"$1"
  chown "$2" "$1"
  chmod "$3" "$1"
}
md() {
  mkdir "$1"
  chown "$2" "$1"
  chmod "$3" "$1"
}
# c NAME PATH-TO-DESCRIBE|- COMMAND...
c() {
  name=$1 path=$2
  shift 2
  r=$("$@")
  [ "$path" = - ] || r="$r $(as0 stat "$path")"
  echo "CASE $name $r"
}

# Owners and groups.
mk f_chgrp 1001:1001 0644
c chgrp_to_supplementary_group f_chgrp as1 chown f_chgrp -1 2002
mk f_notmember 1001:1001 0644
c chgrp_to_group_not_a_member f_notmember as1 chown f_notmember -1 3000
c chown_to_other_user f_notmember as1 chown f_notmember 1002 -1
mk f_chmod 1001:1001 0644
c chmod_by_non_owner f_chmod as2 chmod f_chmod 0666
mk f_sgid_chmod 1001:2001 0755
c chmod_gs_by_owner_in_supplementary_group f_sgid_chmod as1 chmod f_sgid_chmod 2755
mk f_sgid_chmod2 1001:3000 0755
c chmod_gs_by_owner_not_in_group f_sgid_chmod2 as1 chmod f_sgid_chmod2 2755

# Directories readable but not searchable.
md d_owner 1001:1001 0600
c opendir_0600_owner - as1 opendir d_owner
md d_primary 0:1003 0060
c opendir_0060_primary_group - as3 opendir d_primary
md d_supp 0:2001 0060
c opendir_0060_supplementary_group - as2 opendir d_supp
c opendir_0060_other - as3 opendir d_supp

# Access through a supplementary group.
mk f_supp_read 0:2002 0640
c read_via_supplementary_group - as1 read f_supp_read
c read_not_in_group - as2 read f_supp_read
md d_search 0:2002 0710
mk d_search/f 0:0 0644
c lookup_via_supplementary_group - as1 read d_search/f
c lookup_not_in_group - as2 read d_search/f
md d_team 0:2001 0770
c create_in_dir_of_supplementary_group d_team/new as2 create d_team/new 0644

# Moving a file someone else owns between world-writable directories.
md d_from 0:0 0777
md d_to 0:0 0777
mk d_from/f 0:0 0644
c rename_foreign_file d_to/f as1 rename d_from/f d_to/f
md d_sub 0:0 0755
c rename_foreign_dir - as1 rename d_sub d_to/sub
# The same move beneath a directory the user cannot search: the guest kernel's own
# path walk refuses it (as with a share whose root is 0700), before any daemon.
md locked 0:0 0700
md locked/a 0:0 0777
md locked/b 0:0 0777
mk locked/a/f 0:0 0644
c rename_beneath_unsearchable_dir - as1 rename locked/a/f locked/b/f

# Set-id bits and a writer who is not the owner.
mk s_write_suid 1003:1003 4666
c write_setuid_by_non_owner s_write_suid as1 write s_write_suid
mk s_write_sgid 1003:2001 6770
c write_setgid_gexec_via_group s_write_sgid as2 write s_write_sgid
mk s_trunc_suid 1003:1003 4666
c truncate_setuid_by_non_owner s_trunc_suid as1 truncate s_trunc_suid
mk s_trunc_sgid 1003:2001 2770
c truncate_setgid_gexec_via_group s_trunc_sgid as2 truncate s_trunc_sgid
mk s_otrunc 1003:1003 4666
c open_trunc_setuid_by_non_owner s_otrunc as1 opentrunc s_otrunc
mk s_chown 1001:1001 6755
c chgrp_setid_file_by_owner s_chown as1 chown s_chown -1 2001
mk s_root_write 1003:1003 4666
c write_setuid_by_root s_root_write as0 write s_root_write

# New files: set-gid directories and the umask.
md sg 0:2001 2777
c create_in_setgid_dir sg/f as3 create sg/f 0644
c mkdir_in_setgid_dir sg/d as3 mkdir sg/d 0755
c create_gs_in_setgid_dir_not_member sg/g as3 create sg/g 2755
c create_gs_in_setgid_dir_via_group sg/h as2 create sg/h 2755
md d_umask 1001:1001 0755
c create_with_umask_027 d_umask/f as1_umask027 create d_umask/f 0666
c mkdir_with_umask_027 d_umask/d as1_umask027 mkdir d_umask/d 0777

# Sticky directories and times.
md t 0:0 1777
mk t/f 1001:1001 0666
c unlink_in_sticky_dir_by_non_owner t/f as2 unlink t/f
c unlink_in_sticky_dir_by_owner - as1 unlink t/f
mk f_times 1001:2001 0664
c utimes_now_by_writer_via_group - as2 touch f_times
c utimes_explicit_by_non_owner - as2 utimes f_times
c utimes_now_without_write - as3 touch f_times

# File capabilities.
mk f_cap 1001:1001 0755
c setcap_by_owner_not_root - as1 setcap f_cap
echo "DONE"
