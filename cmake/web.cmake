# millrace_web_ui(<ui>): builds web/<ui>/ (an index.html + TypeScript, with the
# shared toolchain in web/package.json) and embeds the result in library
# millrace_web_<ui>, whose header millrace/web/<ui>_assets.h declares
# millrace::web::<ui>_assets(). Serve it with millrace::web::serve_assets().
# web/node_modules comes from scripts/setup (npm ci).
find_program(MILLRACE_NODE node REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

function(millrace_web_ui ui)
  set(web_dir ${PROJECT_SOURCE_DIR}/web)
  set(out_dir ${CMAKE_BINARY_DIR}/web/${ui})
  set(gen_cc ${CMAKE_BINARY_DIR}/web/${ui}_assets.cc)
  set(gen_h ${CMAKE_BINARY_DIR}/web/include/millrace/web/${ui}_assets.h)
  file(GLOB_RECURSE inputs CONFIGURE_DEPENDS ${web_dir}/${ui}/* ${web_dir}/shared/*)
  add_custom_command(
    OUTPUT ${gen_cc} ${gen_h}
    COMMAND ${MILLRACE_NODE} ${web_dir}/build.mjs ${ui} ${out_dir}
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/cmake/embed_assets.py ${ui} ${out_dir} ${gen_cc} ${gen_h}
    DEPENDS ${inputs} ${web_dir}/build.mjs ${web_dir}/package-lock.json ${PROJECT_SOURCE_DIR}/cmake/embed_assets.py
    WORKING_DIRECTORY ${web_dir}
    COMMENT "Building web UI ${ui}"
    VERBATIM)
  add_library(millrace_web_${ui} STATIC ${gen_cc})
  target_include_directories(millrace_web_${ui} PUBLIC ${CMAKE_BINARY_DIR}/web/include)
  target_link_libraries(millrace_web_${ui} PUBLIC millrace_common)
endfunction()
