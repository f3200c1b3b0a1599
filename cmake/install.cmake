# Installing nabla: headers, libnabla.a, libnabla.so.0 (public nb_ API only), the nabla
# command, a pkg-config file and a CMake package (find_package(nabla) gives nabla::nabla and
# nabla::nabla_static). Included from the top-level CMakeLists.txt after every target exists.

# ---- tests -----------------------------------------------------------------------------
# The shared library exports only nb_ names (no nb__ internals) and has SONAME libnabla.so.0.
add_test(NAME install_exports
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/check_exports.sh $<TARGET_FILE:nabla>)
