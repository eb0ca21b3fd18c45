# SPDX-License-Identifier: BSD-3-Clause
# cmake -DBUILD_DIR=... -DTARGET=... -DEXPECT=<regex> -P expect_compile_failure.cmake
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
                RESULT_VARIABLE status OUTPUT_VARIABLE log ERROR_VARIABLE log)
if(status EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but it is a misuse that must be rejected")
endif()
if(NOT log MATCHES "${EXPECT}")
  message(FATAL_ERROR "${TARGET} failed to compile as it should, but the log does not match '${EXPECT}':\n${log}")
endif()
message(STATUS "${TARGET} rejected; the log names '${EXPECT}'")
