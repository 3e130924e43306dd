# groklab as an installed C library: the pkg-config file groklab.pc and the
# CMake package (groklabConfig.cmake, its version file and the exported
# targets), both under CMAKE_INSTALL_LIBDIR. Included by CMakeLists.txt after
# the libraries are defined.
include(CMakePackageConfigHelpers)

# Link items as pkg-config flags: a library file /dir/libX.so as -L/dir -lX
# (each -L once), a flag as itself, a bare name as -lNAME.
function(gl_pc_flags out)
  set(flags)
  foreach(item ${ARGN})
    if(item MATCHES "^-")
      list(APPEND flags "${item}")
    elseif(IS_ABSOLUTE "${item}")
      get_filename_component(dir "${item}" DIRECTORY)
      get_filename_component(name "${item}" NAME_WE)
      string(REGEX REPLACE "^lib" "" name "${name}")
      if(NOT "-L${dir}" IN_LIST flags)
        list(APPEND flags "-L${dir}")
      endif()
      list(APPEND flags "-l${name}")
    elseif(item)
      list(APPEND flags "-l${item}")
    endif()
  endforeach()
  string(JOIN " " flags ${flags})
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()

# What the static library needs besides the pkg-config modules (those go to
# Requires.private): OpenMP, BLAS, libm, libdl (the CUDA module is loaded
# at run time, so CUDA is never linked) and MPI as this build has it.
set(gl_private ${OpenMP_C_FLAGS} ${GL_BLAS_LIB} m ${CMAKE_DL_LIBS})
if(GL_USE_MPI)
  list(APPEND gl_private ${MPI_C_LINK_FLAGS} ${MPI_C_LIBRARIES})
endif()
gl_pc_flags(GL_PC_LIBS_PRIVATE ${gl_private})
set(GL_PC_REQUIRES)
foreach(m ${GL_PKG_MODULES})
  string(REGEX REPLACE "^[^=]*=" "" m "${m}")
  list(APPEND GL_PC_REQUIRES ${m})
endforeach()
string(JOIN " " GL_PC_REQUIRES ${GL_PC_REQUIRES})
set(GL_PC_CFLAGS "")
if(GL_USE_CUDA)
  set(GL_PC_CFLAGS " -DGL_HAVE_CUDA")
endif()
# The prefix relative to the pkgconfig folder, so that the file holds no
# absolute path (the prefix is chosen at install time: cmake --install
# --prefix P). Absolute library or include folders are written as they are.
set(gl_pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(GL_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
  file(RELATIVE_PATH GL_PC_PREFIX "${gl_pc_dir}" "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH GL_PC_PREFIX "/${gl_pc_dir}" "/")
  set(GL_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
string(REGEX REPLACE "/$" "" GL_PC_PREFIX "${GL_PC_PREFIX}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(GL_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(GL_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/groklab.pc.in ${CMAKE_CURRENT_BINARY_DIR}/groklab.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/groklab.pc DESTINATION ${gl_pc_dir})

set(gl_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/groklab")
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/groklabConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/groklabConfig.cmake INSTALL_DESTINATION ${gl_cmake_dir})
# 0.x: a new minor version may change the interface
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/groklabConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/groklabConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/groklabConfigVersion.cmake
        DESTINATION ${gl_cmake_dir})
install(EXPORT groklabTargets NAMESPACE groklab:: DESTINATION ${gl_cmake_dir})
