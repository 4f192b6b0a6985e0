# Guest side of RunGuestTest.RustReadmeExampleServesTheGuest (busybox sh, share at /mnt):
# a little of everything through the daemon started with the Rust virtiofsd README's
# options (file handles, announced submounts).
set -e
mkdir /mnt/dir
echo "from the guest" > /mnt/dir/file
ln /mnt/dir/file /mnt/dir/link
mv /mnt/dir/file /mnt/moved
test "$(cat /mnt/dir/link)" = "from the guest"
ls -la /mnt /mnt/dir
echo README-EXAMPLE-OK
