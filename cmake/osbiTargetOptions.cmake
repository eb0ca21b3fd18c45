# SPDX-License-Identifier: BSD-3-Clause
# Options for osbi's *own* targets (tests, examples, benchmarks); never applied to osbi::osbi.

# Warnings (as errors when OSBI_WARNINGS_AS_ERRORS) and the sanitizers named in OSBI_SANITIZE.
function(osbi_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(OSBI_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
    if(Kokkos_ENABLE_CUDA)
      # nvcc's own diagnostics too (host/device mix-ups), through Kokkos' nvcc_wrapper, except 177
      # ("declared but never referenced"), which nvcc reports for every unused member of a class in
      # an anonymous namespace (the tests' concept models); g++'s -Wunused-* cover what matters.
      target_compile_options(${target} PRIVATE "SHELL:-Werror all-warnings" "SHELL:-Xcudafe --diag_suppress=177")
    endif()
  endif()
  if(OSBI_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${OSBI_SANITIZE} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${OSBI_SANITIZE})
    if(OSBI_NO_SANITIZE)
      target_compile_options(${target} PRIVATE -fno-sanitize=${OSBI_NO_SANITIZE})
    endif()
    # GCC's manual advises against -Werror with sanitizers: they raise the rate of false "may be
    # used uninitialized" reports. GCC 12 flags std::optional<double>'s payload in
    # PrioritizedBuffer::priority_of under ASan without use-after-scope, so that warning stays a
    # warning here; builds without sanitizers keep it an error.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND OSBI_WARNINGS_AS_ERRORS)
      target_compile_options(${target} PRIVATE -Wno-error=maybe-uninitialized)
    endif()
  endif()
endfunction()

# Examples and benchmarks are about speed: vectorization decides it, so they get the host's ISA.
function(osbi_native_arch target)
  if(OSBI_NATIVE_ARCH)
    include(CheckCXXCompilerFlag)
    check_cxx_compiler_flag(-march=native OSBI_HAS_MARCH_NATIVE)
    if(OSBI_HAS_MARCH_NATIVE)
      target_compile_options(${target} PRIVATE -march=native)
      # GCC 12 reports a false "may be used uninitialized", and in the flagship example a false "is used
      # uninitialized", inside Eigen 3.4's AVX-512 transposes (avx512fintrin.h's `__m256d __Y = __Y;`
      # idiom); they only appear with AVX-512 enabled, and the second failed the demo's build on an
      # AVX-512 Xeon.
      if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-uninitialized)
      endif()
    endif()
  endif()
endfunction()
