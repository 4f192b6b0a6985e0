#!/bin/sh
# Guest side of load_test (busybox sh, share at /mnt, see load_test.cc): asks the host to
# change files under the mounted share and prints what the guest sees, as "CASE NAME RESULT"
# lines, then the size cases. RESULT is a file's contents or size, or the errno's name.
# The host's answer to "@sections" says which parts to run: "cache", "readdir",
# "churn-readdir", "churn-readdirplus", "size".
host() { # host REQUEST: the host carries it out (guest_session.h); prints its answer
  n=$(($(cat /tmp/.host-n 2>/dev/null || echo 0) + 1)) && echo $n >/tmp/.host-n
  r=$(cat /proc/sys/kernel/random/boot_id)-$n-$RANDOM
  echo "$*" >.sync/req-$r.tmp && mv .sync/req-$r.tmp .sync/req-$r
  while ! [ -e .sync/ack-$r ]; do usleep 20000; done
  cat .sync/ack-$r
}
errname() { # busybox's message -> errno name
  case "$1" in
    *"No such file"*) echo ENOENT ;;
    *"Stale file"*) echo ESTALE ;;
    *) echo "ERROR:$1" | tr ' ' _ ;;
  esac
}
rd() { # rd FILE: its contents, or the errno's name
  out=$(cat "$1" 2>&1) && echo "$out" && return
  errname "$out"
}
sz() { # sz FILE: its size, or the errno's name
  out=$(stat -c %s "$1" 2>&1) && echo "$out" && return
  errname "$out"
}
case_() { echo "CASE $1 $2"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
sections=$(host @sections)
echo "# sections: $sections"

case " $sections " in *" cache "*)
  # The host made cache/f1 ("one"), cache/f2 ("same-1"), cache/old, cache/gone before the
  # boot. The guest looks at them all first, so each is in its caches.
  case_ f1_before "$(rd cache/f1)"
  case_ f2_before "$(rd cache/f2)"
  case_ old_before "$(sz cache/old)"
  case_ gone_before "$(rd cache/gone)"
  case_ born_before "$(sz cache/born)"
  host 'printf version-two >cache/f1 && printf same-2 >cache/f2 && mv cache/old cache/new &&
        rm cache/gone && echo born >cache/born' >/dev/null
  for when in now later dropped; do
    if [ $when = later ]; then sleep 2; fi # past the 1 s timeouts of --cache=auto
    if [ $when = dropped ]; then echo 3 >/proc/sys/vm/drop_caches; fi
    case_ f1_$when "$(rd cache/f1)"
    case_ f1_size_$when "$(sz cache/f1)"
    case_ f2_$when "$(rd cache/f2)"
    case_ old_$when "$(sz cache/old)"
    case_ new_$when "$(sz cache/new)"
    case_ gone_$when "$(sz cache/gone)"
    case_ born_$when "$(rd cache/born)"
    case_ born_listed_$when "$(ls cache | grep -c '^born$')"
  done
  ;;
esac

# 100,000 entries the host made in big/: the listings go back to the host, which checks
# them. READDIR: load_helper list (plain readdir, as `ls -f`); READDIRPLUS: list-plus.
mkdir -p out
list() { # list WHAT HOW [churn]
  [ -z "$3" ] || host @churn-start >/dev/null
  t=$(uptime_s)
  ./load_helper "$2" big >out/$1 2>out/$1.err
  case_ $1_status $?
  echo "# $1: $(wc -l <out/$1) names in $(awk "BEGIN {print $(uptime_s) - $t}") s"
  [ -z "$3" ] || case_ $1_churn "$(host @churn-stop)"
}
case " $sections " in *" readdir "*) list readdir list ;; esac
case " $sections " in *" churn-readdir "*) list churn-readdir list churn ;; esac
case " $sections " in *" churn-readdirplus "*) list churn-readdirplus list-plus churn ;; esac
# READDIRPLUS made the guest keep an inode of every entry, and the daemon holds a descriptor
# for each while the guest does: let it forget them before going on (the daemon's
# RLIMIT_NOFILE may be as low as its hard limit, when it may not raise that).
echo 3 >/proc/sys/vm/drop_caches
sleep 2

case " $sections " in *" size "*)
  # A 4 GiB sparse file: 4 KiB of data at 1 GiB and at its end, holes elsewhere.
  truncate -s 4G sparse
  dd if=/dev/urandom of=sparse bs=4096 seek=262144 count=1 conv=notrunc 2>/dev/null
  dd if=/dev/urandom of=sparse bs=4096 seek=1048575 count=1 conv=notrunc 2>/dev/null
  case_ sparse_map "$(./load_helper seek sparse | tr '\n' ' ')"
  case_ sparse_hole_nonzero_bytes "$(dd if=sparse bs=4096 skip=500000 count=1 2>/dev/null |
    tr -d '\000' | wc -c)"
  case_ sparse_md5 "$(dd if=sparse bs=4096 skip=262144 count=1 2>/dev/null | md5sum | cut -c1-32)"

  # Names of 255 bytes work; 256 are refused.
  n255=$(printf 'n%.0s' $(seq 255))
  m255=$(printf 'm%.0s' $(seq 255))
  case_ create_255 "$(./load_helper create names/$n255)"
  case_ create_256 "$(./load_helper create names/${n255}x)"
  case_ mkdir_256 "$(./load_helper mkdir names/${m255}x)"
  case_ link_255 "$(ln names/$n255 names/$m255 2>&1 && stat -c %h names/$m255)"
  case_ listed_255 "$(ls names | grep -c "^$n255\$")"
  case_ lookup_256 "$(sz names/${n255}x)"

  # A 4,000-byte path (40 components of 99 bytes and a slash), then 2 more levels below it
  # reached by chdir, so the whole path is longer than PATH_MAX.
  comp=$(printf 'd%.0s' $(seq 99))
  deep=deep
  for i in $(seq 1 40); do deep=$deep/$comp; done
  case_ deep_length "${#deep}"
  case_ deep_mkdir "$(mkdir -p "$deep" 2>&1 && echo ok)"
  case_ deep_file "$(echo deep >"$deep/f" && rd "$deep/f")"
  case_ deeper "$(./load_helper deeper "$deep" "$comp")"
  ;;
esac
echo DONE
