# Kernel profile: Linux 7.2 from Debian sid with the C binder driver, built in the sid chroot
# ($BINDER_CHECK_CACHE/chroot/sid) with clang/lld. See docs/KERNEL-PROFILES.md.
package=linux-source-7.2
tarball=linux-source-7.2.tar.xz
fragment=tiny-binder-7.2-c.fragment
suite=sid
llvm=1
