# Every sh and python block of README.md and docs/*.md, each page's blocks in
# order in an empty directory (tests/docs_examples.py): the built groklab
# first on PATH, the Python package from python/ with the built shared
# library (GROKLAB_LIB). A failing block is reported with its page and line.
if(TARGET groklab_shared)
  set(gl_docs_lib $<TARGET_LINKER_FILE:groklab_shared>)
else()
  set(gl_docs_lib ${CMAKE_BINARY_DIR}/libgroklab.so)
endif()
set(gl_docs_only "")
if(GL_SANITIZE) # a sanitized library loads only into a sanitized program, not python3
  set(gl_docs_only --only sh)
endif()
add_test(NAME docs COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/docs_examples.py
         --groklab $<TARGET_FILE:groklab> --lib ${gl_docs_lib} --source ${CMAKE_SOURCE_DIR} ${gl_docs_only})
set_tests_properties(docs PROPERTIES LABELS "cli" TIMEOUT 900)
