# Cross build for AArch64 with Debian's gcc-aarch64-linux-gnu; tests run under qemu-aarch64
# with the :arm64 multiarch libraries (cmocka, cpu_features, hwloc, zlib).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# Run against the multiarch :arm64 libc, libgomp and libraries in /lib/aarch64-linux-gnu.
# Not `-L /usr/aarch64-linux-gnu`: the older cross libc there (2.36-8cross1) spins forever
# in pthread_create under Debian 12's qemu-aarch64 7.2, so no threaded test could run.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
