# The Python package's tests (pytest, tests/pytest/): each call against the
# groklab program's output for the same config. One CTest test per file, so
# they count in the summary. Not in a sanitized build: python3 cannot load a
# sanitized library.
if(NOT GL_SANITIZE)
  foreach(t train arrays byo sweep dynamics runtime)
    add_test(NAME python_${t} COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider
             ${CMAKE_CURRENT_SOURCE_DIR}/pytest/test_${t}.py)
    set_tests_properties(python_${t} PROPERTIES LABELS "cli" TIMEOUT 900 ENVIRONMENT
      "GROKLAB_BIN=$<TARGET_FILE:groklab>;GROKLAB_LIB=$<TARGET_LINKER_FILE:groklab_shared>;PYTHONPATH=${CMAKE_SOURCE_DIR}/python;PYTHONDONTWRITEBYTECODE=1")
  endforeach()
endif()
