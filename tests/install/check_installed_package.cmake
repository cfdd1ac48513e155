# Installs the build tree into a scratch prefix, then builds and runs programs
# against it: a separate CMake project (find_package) and a pkg-config build.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DC_COMPILER=... -DTINY_A=... -DTINY_CHAT=... -P this
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install -B ${WORK_DIR}/consumer -G Ninja -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer-cpp ${TINY_A} "Hello")
run(${WORK_DIR}/consumer/consumer-c-chat ${TINY_CHAT} --max-tokens 16 "Hello" "And again?")
if(NOT last_output MATCHES "prompt [0-9]+ tokens, 0 reused.*prompt [0-9]+ tokens, [1-9][0-9]* reused")
  message(FATAL_ERROR "the installed C chat example did not reuse its history:\n${last_output}")
endif()

# pkg-config, as a Makefile-based C project would use it.
run(${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/lib/pkgconfig pkg-config --cflags --libs ossrt)
string(STRIP "${last_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${C_COMPILER} -std=c99 -Wall -Wextra -pedantic -Werror ${SOURCE_DIR}/examples/c/chat.c ${flags}
    -o ${WORK_DIR}/pkgconfig-chat)
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${prefix}/lib ${WORK_DIR}/pkgconfig-chat ${TINY_CHAT} --max-tokens 4 "Hi")
message(STATUS "installed package: find_package (C and C++) and pkg-config builds run")
