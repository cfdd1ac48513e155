# Every code example in docs/*.md is built and run by ctest, so the guides
# cannot drift from the API.
#
# A fenced block becomes (part of) a program when the line before it is
#   <!-- doc-test: NAME -->
# or <!-- doc-test: NAME model=KEY --> to run it on another test model (KEY is
# registered below with ossrt_doc_model). Blocks with the same NAME, in file
# order, are concatenated into one program, so prose may sit between its parts.
# The fence's language decides what the program is and how it runs (MODEL = the
# model's directory, also argv[1]; the tiny chat model by default):
#   c       compiled as C99 against the C ABI, run as `prog MODEL`
#   cpp     compiled as C++20 against the C++ API, run as `prog MODEL`
#   python  run with the binding on the path, as `python3 prog.py MODEL`
#   sh      run by bash -eu with build/bin first on PATH and $MODEL set
# A block in one of those languages without the marker fails the configure:
# an example nobody runs is the one that rots. Output and other text use
# ```text or ```json; any other language (or none) fails too.

# ossrt_doc_model(KEY DIRECTORY FIXTURE): a model the guides' programs may run on.
function(ossrt_doc_model key directory fixture)
  set(OSSRT_DOC_MODEL_${key} ${directory} PARENT_SCOPE)
  set(OSSRT_DOC_FIXTURE_${key} ${fixture} PARENT_SCOPE)
endfunction()
ossrt_doc_model(tiny-chat ${OSSRT_TINY_CHAT} tiny_chat)
# Calls get_weather, then answers once the call is in its context (tests/support/scripted_checkpoint.hpp).
ossrt_doc_model(weather ${OSSRT_WEATHER_MODEL} weather_model)
# tiny-a written as llama.cpp's GGUF (tests/tools/write_gguf.cpp).
ossrt_doc_model(tiny-a-gguf ${OSSRT_TINY_A_GGUF} tiny_a_gguf)

set(OSSRT_DOC_SNIPPET_DIR ${CMAKE_CURRENT_BINARY_DIR}/doc-snippets)
file(REMOVE_RECURSE ${OSSRT_DOC_SNIPPET_DIR})
file(MAKE_DIRECTORY ${OSSRT_DOC_SNIPPET_DIR})

set(doc_tested_languages c cpp python sh)
set(doc_extension_c c)
set(doc_extension_cpp cpp)
set(doc_extension_python py)
set(doc_extension_sh sh)

file(GLOB doc_files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
set(doc_programs "")
foreach(doc ${doc_files})
  get_filename_component(doc_name ${doc} NAME)
  # An edited guide re-runs the configure, which extracts its programs again.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${doc})
  file(READ ${doc} text)
  set(line_number 0)
  set(marker "")
  # Walk the file fence by fence: find "```", read the language to the end of
  # the line, then the body up to the closing fence.
  while(TRUE)
    string(FIND "${text}" "```" fence)
    if(fence EQUAL -1)
      break()
    endif()
    string(SUBSTRING "${text}" 0 ${fence} before)
    # The marker must be the last non-blank line before the fence.
    string(STRIP "${before}" before_stripped)
    set(marker "")
    string(FIND "${before_stripped}" "\n" last_newline REVERSE)
    math(EXPR last_line_start "${last_newline} + 1")
    string(SUBSTRING "${before_stripped}" ${last_line_start} -1 last_line)
    set(marker_model tiny-chat)
    if(last_line MATCHES "^<!-- doc-test: ([A-Za-z0-9_-]+)( model=([A-Za-z0-9_-]+))? -->$")
      set(marker ${CMAKE_MATCH_1})
      if(CMAKE_MATCH_3)
        set(marker_model ${CMAKE_MATCH_3})
      endif()
      if(NOT DEFINED OSSRT_DOC_MODEL_${marker_model})
        message(FATAL_ERROR "docs/${doc_name}: doc-test ${marker} names model '${marker_model}', which no "
                            "ossrt_doc_model() registers")
      endif()
    endif()
    math(EXPR after_fence "${fence} + 3")
    string(SUBSTRING "${text}" ${after_fence} -1 text)
    string(FIND "${text}" "\n" end_of_info)
    string(SUBSTRING "${text}" 0 ${end_of_info} language)
    string(STRIP "${language}" language)
    math(EXPR body_start "${end_of_info} + 1")
    string(SUBSTRING "${text}" ${body_start} -1 text)
    string(FIND "${text}" "```" closing)
    if(closing EQUAL -1)
      message(FATAL_ERROR "docs/${doc_name}: a ``` fence is never closed")
    endif()
    string(SUBSTRING "${text}" 0 ${closing} body)
    math(EXPR after_closing "${closing} + 3")
    string(SUBSTRING "${text}" ${after_closing} -1 text)

    list(FIND doc_tested_languages "${language}" tested)
    if(tested EQUAL -1)
      # Anything else must say it is not a program, so a ```bash or ```py example cannot slip past untested.
      if(NOT language MATCHES "^(text|json)$")
        message(FATAL_ERROR "docs/${doc_name}: a ``` block's language is '${language}': use c, cpp, python or sh "
                            "(run by the tests) or text / json (not programs)")
      endif()
      continue()
    endif()
    if(marker STREQUAL "")
      string(SUBSTRING "${body}" 0 60 body_start_text)
      message(FATAL_ERROR "docs/${doc_name}: a ```${language} block has no <!-- doc-test: NAME --> line "
                          "before it (it starts: ${body_start_text})")
    endif()
    set(program ${OSSRT_DOC_SNIPPET_DIR}/${marker}.${doc_extension_${language}})
    if(NOT marker IN_LIST doc_programs)
      list(APPEND doc_programs ${marker})
      set(doc_language_${marker} ${language})
      set(doc_model_${marker} ${marker_model})
      file(WRITE ${program} "")
    elseif(NOT doc_language_${marker} STREQUAL language)
      message(FATAL_ERROR "docs/${doc_name}: doc-test ${marker} mixes ${doc_language_${marker}} and ${language}")
    endif()
    file(APPEND ${program} "${body}")
  endwhile()
endforeach()

foreach(name ${doc_programs})
  set(language ${doc_language_${name}})
  set(program ${OSSRT_DOC_SNIPPET_DIR}/${name}.${doc_extension_${language}})
  set(test_name docs.${name})
  set(model ${OSSRT_DOC_MODEL_${doc_model_${name}}})
  if(language STREQUAL "c")
    ossrt_add_c99_test(ossrt-doc-${name} ${program})
    target_compile_definitions(ossrt-doc-${name} PRIVATE _POSIX_C_SOURCE=200809L)
    target_link_libraries(ossrt-doc-${name} PRIVATE m)
    add_test(NAME ${test_name} COMMAND ossrt-doc-${name} ${model})
  elseif(language STREQUAL "cpp")
    add_executable(ossrt-doc-${name} ${program})
    target_link_libraries(ossrt-doc-${name} PRIVATE ossrt::ossrt ossrt_compile_options)
    add_test(NAME ${test_name} COMMAND ossrt-doc-${name} ${model})
  elseif(language STREQUAL "python")
    if(NOT Python3_Interpreter_FOUND)
      continue()
    endif()
    add_test(NAME ${test_name} COMMAND ${Python3_EXECUTABLE} ${program} ${model})
    set_tests_properties(${test_name} PROPERTIES ENVIRONMENT "${OSSRT_PYTHON_ENV}")
  else()
    set(work_dir ${OSSRT_DOC_SNIPPET_DIR}/${name}.work)
    file(MAKE_DIRECTORY ${work_dir})
    add_test(NAME ${test_name} COMMAND bash -eu ${program} WORKING_DIRECTORY ${work_dir})
    set_tests_properties(${test_name} PROPERTIES
      ENVIRONMENT "PATH=$<TARGET_FILE_DIR:ossrt-cli>:$ENV{PATH};MODEL=${model}")
  endif()
  set_tests_properties(${test_name} PROPERTIES FIXTURES_REQUIRED ${OSSRT_DOC_FIXTURE_${doc_model_${name}}} LABELS docs)
endforeach()
