#!/bin/sh
# Guest side of crashing_daemon.sh: asks the daemon to crash, then needs it again.
touch .crash-now
echo "crash requested"
echo "this write needs the daemon" >after-crash.txt
echo "unreachable: the daemon answered after its crash"
