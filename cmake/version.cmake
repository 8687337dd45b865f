# The version of this build, grown by every commit, so that every package
# built from a newer commit upgrades the one before it:
#
#   <base>+git<commits>.<sha>      e.g. 0.1.0+git152.f4e12f6
#
# <base> is the newest tag v<base> reachable from HEAD (git describe --tags),
# else the project() version; <commits> is `git rev-list --count HEAD`, the
# commits in HEAD's history, which only grows along a branch (whole history
# rather than since the tag, so that tagging the base that was already in use
# never makes the next build compare lower). Outside a git checkout it is the
# project() version alone. MIRRORTAP_VERSION_OVERRIDE sets it outright (a
# source tarball without its history). A shallow clone counts only the
# commits it has, so its number is too low: CMake warns.
#
# Sets MIRRORTAP_VERSION (what --version says, the .deb's upstream version)
# and re-runs CMake when HEAD moves, so a build after a commit has its number.
# `cd REPO && cmake -DPROJECT_VERSION=X -P version.cmake` prints it for REPO
# (tests/deploy/check_version.sh).
function(mirrortap_compute_version)
  set(version "${PROJECT_VERSION}")
  find_package(Git QUIET)
  if(MIRRORTAP_VERSION_OVERRIDE)
    set(version "${MIRRORTAP_VERSION_OVERRIDE}")
  elseif(GIT_FOUND)
    set(git "${GIT_EXECUTABLE}" -C "${CMAKE_SOURCE_DIR}")
    execute_process(COMMAND ${git} rev-list --count HEAD OUTPUT_VARIABLE count
                    OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE count_rc ERROR_QUIET)
    execute_process(COMMAND ${git} rev-parse --short=7 HEAD OUTPUT_VARIABLE sha
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(count_rc EQUAL 0 AND count MATCHES "^[0-9]+$")
      execute_process(COMMAND ${git} describe --tags --long --match "v[0-9]*" HEAD
                      OUTPUT_VARIABLE described OUTPUT_STRIP_TRAILING_WHITESPACE
                      RESULT_VARIABLE described_rc ERROR_QUIET)
      set(base "${PROJECT_VERSION}")
      if(described_rc EQUAL 0 AND described MATCHES "^v([0-9][0-9A-Za-z.~]*)-[0-9]+-g[0-9a-f]+$")
        set(base "${CMAKE_MATCH_1}")
      endif()
      set(version "${base}+git${count}.${sha}")
      execute_process(COMMAND ${git} rev-parse --is-shallow-repository OUTPUT_VARIABLE shallow
                      OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(shallow STREQUAL "true")
        message(WARNING "mirrortap: a shallow clone: version ${version} counts only the commits fetched; "
                        "packages built here may not upgrade earlier ones (git fetch --unshallow)")
      endif()
      # Configure again when HEAD or the branch it names moves.
      execute_process(COMMAND ${git} rev-parse --symbolic-full-name HEAD OUTPUT_VARIABLE branch
                      OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      foreach(ref HEAD ${branch} packed-refs)
        execute_process(COMMAND ${git} rev-parse --path-format=absolute --git-path "${ref}"
                        OUTPUT_VARIABLE path OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
        if(path AND EXISTS "${path}" AND NOT CMAKE_SCRIPT_MODE_FILE)
          set_property(DIRECTORY "${CMAKE_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${path}")
        endif()
      endforeach()
    endif()
  endif()
  set(MIRRORTAP_VERSION "${version}" PARENT_SCOPE)
endfunction()

mirrortap_compute_version()
message(STATUS "mirrortap version ${MIRRORTAP_VERSION}")
