# Each public header must compile on its own (C11, no other include first): one ctest per
# header runs the compiler on a file that includes only it.
file(GLOB NB_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/nabla/*.h)
foreach(h ${NB_PUBLIC_HEADERS})
  get_filename_component(name ${h} NAME_WE)
  add_test(NAME header_alone_${name}
           COMMAND ${CMAKE_C_COMPILER} -std=c11 -Wall -Wextra -Werror -fsyntax-only
                   -I${PROJECT_SOURCE_DIR}/include -x c ${h})
endforeach()
