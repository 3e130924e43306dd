# Bringing your own model and data (docs/byo.md): dataset files read and
# refused (unit), groklab import and train --data end to end (cli).
add_executable(test_import test_import.c)
target_link_libraries(test_import PRIVATE groklab_lib)
add_test(NAME import COMMAND test_import)
set_tests_properties(import PROPERTIES LABELS "unit")
add_test(NAME import_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/import_test.sh $<TARGET_FILE:groklab>)
set_tests_properties(import_cli PROPERTIES LABELS "cli" TIMEOUT 900)
