# Kernel profile: the real-kernel oracle (Linux 6.12 LTS from Debian bookworm-security).
package=linux-source-6.12
tarball=linux-source-6.12.tar.xz
fragment=tiny-binder.fragment
