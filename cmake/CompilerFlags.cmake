# Warnings and sanitizers, applied through an interface target so that every
# project target (and nothing imported) gets them.
add_library(ossrt_compile_options INTERFACE)
target_compile_options(ossrt_compile_options INTERFACE
  $<$<COMPILE_LANGUAGE:C,CXX>:-Wall -Wextra -Wshadow -Wpedantic>
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
if(OSSRT_WARNINGS_AS_ERRORS)
  target_compile_options(ossrt_compile_options INTERFACE $<$<COMPILE_LANGUAGE:C,CXX>:-Werror>)
endif()
if(OSSRT_SANITIZE)
  target_compile_options(ossrt_compile_options INTERFACE
    -fsanitize=${OSSRT_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(ossrt_compile_options INTERFACE -fsanitize=${OSSRT_SANITIZE})
  # A C program linked by clang gets UBSan's C runtime only, while the library
  # it links (C++) needs the C++ one (its vptr checks), which needs libstdc++;
  # GCC links both.
  if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    target_link_options(ossrt_compile_options INTERFACE $<$<LINK_LANGUAGE:C>:-fsanitize-link-c++-runtime>)
    target_link_libraries(ossrt_compile_options INTERFACE $<$<LINK_LANGUAGE:C>:stdc++>)
  endif()
endif()
if(OSSRT_FUZZ)
  # Coverage instrumentation for libFuzzer across the library, not only the targets.
  target_compile_options(ossrt_compile_options INTERFACE -fsanitize=fuzzer-no-link
    -fsanitize-coverage-ignorelist=${PROJECT_SOURCE_DIR}/cmake/fuzz-coverage-ignorelist.txt)
endif()
