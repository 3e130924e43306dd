# examples/quickstart.py and examples/quickstart.ipynb (through nbconvert) at
# p 23, 300 steps, against the same runs trained and pruned by the groklab
# program (tests/examples_test.sh); skipped without the Python packages, and
# not in a sanitized build (python3 cannot load a sanitized library).
if(NOT GL_SANITIZE)
  if(TARGET groklab_shared)
    set(gl_examples_lib $<TARGET_LINKER_FILE:groklab_shared>)
  else()
    set(gl_examples_lib ${CMAKE_BINARY_DIR}/libgroklab.so)
  endif()
  add_test(NAME examples COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/examples_test.sh $<TARGET_FILE:groklab>
           ${gl_examples_lib})
  set_tests_properties(examples PROPERTIES LABELS "cli" SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
