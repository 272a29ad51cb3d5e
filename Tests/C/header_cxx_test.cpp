// header_cxx_test.cpp: graft.h is valid C++ (its extern "C" block, enums and
// typedefs compile under -pedantic -Werror) and links from a C++ program.
#include <graft.h>

#include <cstdio>

int main() {
    std::printf("graft %s (ABI %d) from C++\n", graft_version(), graft_abi_version());
    return graft_abi_version() == GRAFT_ABI_VERSION ? 0 : 1;
}
