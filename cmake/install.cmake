# Installing nabla: headers, libnabla.a, libnabla.so.0 (public nb_ API only), the nabla
# command, a pkg-config file and a CMake package (find_package(nabla) gives nabla::nabla and
# nabla::nabla_static). Included from the top-level CMakeLists.txt after every target exists.
include(CMakePackageConfigHelpers)

# Installed binaries keep a RUNPATH to the folders of their outside libraries, such as
# OpenBLAS's OpenMP build (Debian keeps it apart from the default, pthread build that
# libopenblas.so.0 resolves to), so the installed program loads the BLAS it was built with.
set_target_properties(nabla nabla_cli PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/nabla DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(TARGETS nabla nabla_static EXPORT nablaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS nabla_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# ---- CMake package ---------------------------------------------------------------------
set(NABLA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nabla)
install(EXPORT nablaTargets NAMESPACE nabla:: DESTINATION ${NABLA_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nablaConfig.cmake.in
  ${PROJECT_BINARY_DIR}/nablaConfig.cmake INSTALL_DESTINATION ${NABLA_CMAKE_DIR})
# 0.x: a new minor version may break the API (as the SONAME 0 says for the ABI).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nablaConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/nablaConfig.cmake ${PROJECT_BINARY_DIR}/nablaConfigVersion.cmake
        DESTINATION ${NABLA_CMAKE_DIR})

# ---- pkg-config ------------------------------------------------------------------------
# Libs.private: what libnabla.a needs besides the Requires.private modules. The GEMM libraries
# (the CBLAS library, and oneDNN when the build uses it) are named -L<dir> -l<name>, without -L
# when the compiler searches <dir> anyway.
set(_nb_blas "")
foreach(_nb_lib ${NABLA_GEMM_LIBS})
  get_filename_component(_nb_blas_dir ${_nb_lib} DIRECTORY)
  get_filename_component(_nb_blas_file ${_nb_lib} NAME)
  if(_nb_blas_file MATCHES "^lib(.+)\\.(so|a)$")
    set(_nb_one "-l${CMAKE_MATCH_1}")
    list(FIND CMAKE_C_IMPLICIT_LINK_DIRECTORIES ${_nb_blas_dir} _nb_implicit)
    if(_nb_implicit EQUAL -1)
      set(_nb_one "-L${_nb_blas_dir} ${_nb_one}")
    endif()
  else()
    set(_nb_one ${_nb_lib})
  endif()
  string(APPEND _nb_blas " ${_nb_one}")
endforeach()
string(STRIP "${_nb_blas}" _nb_blas)
set(NABLA_PC_REQUIRES_PRIVATE "zlib libpng cairo jansson")
set(NABLA_PC_LIBS_PRIVATE "${_nb_blas} ${OpenMP_C_FLAGS} -lm -lpthread")
# MPI (src/dist/): Open MPI's pkg-config module when there is one, else its libraries by path.
if(NABLA_MPI)
  pkg_check_modules(_nb_ompi QUIET ompi-c)
  if(_nb_ompi_FOUND)
    string(APPEND NABLA_PC_REQUIRES_PRIVATE " ompi-c")
  else()
    foreach(_nb_lib ${MPI_C_LIBRARIES})
      string(APPEND NABLA_PC_LIBS_PRIVATE " ${_nb_lib}")
    endforeach()
  endif()
endif()
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE ${CMAKE_INSTALL_${d}})
    set(NABLA_PC_${d} ${CMAKE_INSTALL_${d}})
  else()
    set(NABLA_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
# The prefix is filled in at install time, so that `cmake --install build --prefix P` writes P.
set(NABLA_PC_PREFIX "@CMAKE_INSTALL_PREFIX@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/nabla.pc.in ${PROJECT_BINARY_DIR}/nabla.pc.in @ONLY)
install(CODE "configure_file(\"${PROJECT_BINARY_DIR}/nabla.pc.in\" \"${PROJECT_BINARY_DIR}/nabla.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/nabla.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- tests -----------------------------------------------------------------------------
# The shared library exports only nb_ names (no nb__ internals) and has SONAME libnabla.so.0.
add_test(NAME install_exports
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/check_exports.sh $<TARGET_FILE:nabla>)
# Installs into a temporary prefix and builds tests/install/app.c against it with pkg-config
# (shared and static) and with find_package(nabla). Skipped (77) in the sanitizer build: its
# libraries need the sanitizer runtime, which an ordinary outside program does not load first.
if(NABLA_SANITIZE)
  set(_nb_install_mode sanitize)
else()
  set(_nb_install_mode plain)
endif()
add_test(NAME install_consumer
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/test_install.sh ${PROJECT_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR} ${CMAKE_C_COMPILER} ${CBLAS_LIB} ${_nb_install_mode})
set_tests_properties(install_consumer PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
