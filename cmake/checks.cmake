# Each public header must compile on its own (C11, no other include first): one ctest per
# header runs the compiler on a file that includes only it.
file(GLOB NB_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/nabla/*.h)
foreach(h ${NB_PUBLIC_HEADERS})
  get_filename_component(name ${h} NAME_WE)
  add_test(NAME header_alone_${name}
           COMMAND ${CMAKE_C_COMPILER} -std=c11 -Wall -Wextra -Werror -fsyntax-only
                   -I${PROJECT_SOURCE_DIR}/include -x c ${h})
endforeach()

# No arrow upward between the folders of src/ (docs/architecture.md), read off the objects.
add_test(NAME layering COMMAND bash ${PROJECT_SOURCE_DIR}/tests/check_layers.sh
         ${CMAKE_BINARY_DIR}/CMakeFiles/nabla_obj.dir/src ${PROJECT_SOURCE_DIR}/src)
