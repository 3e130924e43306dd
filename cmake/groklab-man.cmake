# The man page groklab.1, by help2man from `groklab --help` and
# `groklab --version`, with a COMMANDS section holding the --help of every
# command that `groklab --help` lists (as preformatted text).
#   cmake -DGROKLAB=path/to/groklab -DHELP2MAN=path/to/help2man -DOUT=groklab.1 -P groklab-man.cmake
foreach(v GROKLAB HELP2MAN OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "groklab-man.cmake: -D${v}=... is required")
  endif()
endforeach()

function(gl_run out)
  execute_process(COMMAND ${GROKLAB} ${ARGN} OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR text STREQUAL "")
    message(FATAL_ERROR "groklab-man.cmake: '${GROKLAB} ${ARGN}' failed (${rc})")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Text as roff that prints it as it is: backslashes and minus signs escaped
# (a plain '-' may print as a hyphen, which searches for an option miss), a
# leading '.' or '\'' kept from being read as a request.
function(gl_roff out text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

gl_run(top --help)
# the command list: the lines "  NAME  what it does" after "commands:"
string(REGEX REPLACE "^.*\ncommands:\n" "" list "${top}")
string(REPLACE "\n" ";" lines "${list}")
set(names)
foreach(line ${lines})
  if(line MATCHES "^  ([a-z]+) ")
    list(APPEND names ${CMAKE_MATCH_1})
  endif()
endforeach()
set(sections "[NAME]\ngroklab \\- memorization and generalization on corrupted modular arithmetic\n[COMMANDS]\n")
foreach(name ${names})
  if(name STREQUAL "version")
    continue()
  endif()
  gl_run(help ${name} --help)
  gl_roff(help "${help}")
  string(APPEND sections ".SS \"groklab ${name}\"\n.nf\n${help}.fi\n")
endforeach()
string(APPEND sections "[SEE ALSO]\nThe manual is README.md and docs/ in groklab's sources: docs/library.md for the C library.\n")

get_filename_component(dir "${OUT}" DIRECTORY)
file(WRITE "${dir}/groklab.h2m" "${sections}")
execute_process(COMMAND ${HELP2MAN} --no-info --include "${dir}/groklab.h2m" --output "${OUT}" ${GROKLAB}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "groklab-man.cmake: help2man failed (${rc})")
endif()
