# groklab as an installed C library (docs/library.md): the headers alone as
# C11 and C++11 and called from C++ (headers, unit), and an install into a
# scratch prefix that examples/phase.c builds against through pkg-config
# (shared and static) and find_package (install, cli).

# What a program linking libgroklab.a needs besides it: the libraries that
# `pkg-config --static --libs groklab` names (cmake/groklab-package.cmake).
separate_arguments(gl_static_link UNIX_COMMAND "${GL_PC_LIBS_PRIVATE}")
foreach(m ${GL_PKG_MODULES})
  string(REGEX REPLACE "=.*$" "" prefix "${m}")
  list(APPEND gl_static_link ${${prefix}_LDFLAGS})
endforeach()
set(gl_sanitize_flags "")
if(GL_SANITIZE) # programs built on a sanitized library link the sanitizers too
  set(gl_sanitize_flags "-fsanitize=address,undefined")
  list(APPEND gl_static_link ${gl_sanitize_flags})
endif()

add_test(NAME headers COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/headers_test.sh ${CMAKE_SOURCE_DIR}/include
         $<TARGET_FILE:groklab_lib> ${gl_static_link})
set_tests_properties(headers PROPERTIES LABELS "unit")

add_test(NAME install COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install_test.sh ${CMAKE_BINARY_DIR}
         ${CMAKE_SOURCE_DIR} ${CMAKE_INSTALL_LIBDIR} ${GL_MAN} ${CMAKE_COMMAND})
set_tests_properties(install PROPERTIES LABELS "cli" TIMEOUT 600
                     ENVIRONMENT "GL_EXAMPLE_FLAGS=${gl_sanitize_flags}")
