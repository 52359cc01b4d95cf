# Small helpers shared by every target of the project.

# pinpool_set_warnings(<target>): -Wall -Wextra -Wpedantic (+ -Werror with
# PINPOOL_WARNINGS_AS_ERRORS) for C++; for CUDA sources the same through -Xcompiler.
function(pinpool_set_warnings target)
  set(flags -Wall -Wextra -Wpedantic)
  if(PINPOOL_WARNINGS_AS_ERRORS)
    list(APPEND flags -Werror)
  endif()
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${flags}>)
  if(PINPOOL_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Werror>)
  endif()
endfunction()

# Sanitizers apply to everything built (the library, tests, samples).
if(PINPOOL_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${PINPOOL_SANITIZE}>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=all>)
  add_link_options(-fsanitize=${PINPOOL_SANITIZE})
endif()

# libFuzzer builds: coverage instrumentation and ASan+UBSan on everything (clang only).
if(PINPOOL_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
