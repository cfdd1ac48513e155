# Checks that the per-ISA kernel objects give the linker no raised-ISA copy of
# shared code. Every weak or global function they define outside their own
# namespace (inline and template code from shared headers: the linker keeps one
# copy of each for the whole library) must be baseline x86-64: no VEX-encoded
# (AVX and later) instruction. Local functions and those in the kernels' own
# namespace may use anything; they run only after the runtime dispatch.
# Usage: cmake -DOBJECTS="a.o|b.o" "-DNAMESPACE=ossrt::cpu_avx(2|512)" -P check_baseline_shared_code.cmake
# (NAMESPACE is a regular expression).
cmake_minimum_required(VERSION 3.16)  # if(IN_LIST)
string(REPLACE "|" ";" objects "${OBJECTS}")
if(NOT objects)
  message(FATAL_ERROR "no kernel objects given")
endif()
set(failures "")
set(checked 0)
foreach(object IN LISTS objects)
  execute_process(COMMAND nm --defined-only ${object} OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${object}")
  endif()
  # Function symbols that another object could share: weak (W) or global (T).
  string(REGEX MATCHALL " [WT] [^\n]+" shared "${symbols}")
  list(TRANSFORM shared REPLACE "^ [WT] " "")
  # One disassembly per object (mangled names), read function by function.
  get_filename_component(name ${object} NAME)
  set(listing ${CMAKE_CURRENT_BINARY_DIR}/isa-check-${name}.s)
  execute_process(COMMAND objdump -d --no-show-raw-insn ${object} OUTPUT_FILE ${listing} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "objdump failed on ${object}")
  endif()
  file(STRINGS ${listing} lines REGEX "^[0-9a-f]+ <.+>:$|^ *[0-9a-f]+:\tv")
  file(REMOVE ${listing})
  set(current "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[0-9a-f]+ <(.+)>:$")
      set(current "")
      if(CMAKE_MATCH_1 IN_LIST shared)
        execute_process(COMMAND c++filt ${CMAKE_MATCH_1} OUTPUT_VARIABLE demangled OUTPUT_STRIP_TRAILING_WHITESPACE)
        if(NOT demangled MATCHES "^(void |[^ (]+ )?${NAMESPACE}::")
          set(current "${demangled}")
          math(EXPR checked "${checked} + 1")
        endif()
      endif()
    elseif(current AND line MATCHES "\t(v[a-z0-9]+)")
      list(APPEND failures "${current} in ${object} uses ${CMAKE_MATCH_1}")
      set(current "")
    endif()
  endforeach()
endforeach()
if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "shared code compiled above the baseline:\n  ${text}\n"
                      "include shared headers before the target region (see avx2_target_begin.h)")
endif()
list(LENGTH objects count)
message(STATUS "${count} kernel objects: ${checked} shared functions, all baseline")
