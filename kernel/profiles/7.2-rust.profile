# Kernel profile: Linux 7.2 from Debian sid with the Rust binder driver (ANDROID_BINDER_IPC_RUST),
# built in the sid chroot with rustc/bindgen/clang/lld (make LLVM=1). See docs/KERNEL-PROFILES.md.
package=linux-source-7.2
tarball=linux-source-7.2.tar.xz
fragment=tiny-binder-7.2-rust.fragment
suite=sid
llvm=1
rust=1
