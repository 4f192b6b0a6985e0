#!/bin/sh
# Runs a daemon on a socket path of the test's choosing and links the path that
# tools/guest/run_guest.sh gives ({socket}, in a directory it removes) to it, so the
# test can look at that path after the run.
# Usage: fault_socket_link.sh LINK SOCKET CMD [ARGS...]   (CMD gets --socket-path=SOCKET)
link=$1
socket=$2
shift 2
ln -s "$socket" "$link" || exit 1
exec "$@" --socket-path="$socket"
