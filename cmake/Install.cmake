# `cmake --install` puts the library, headers and a find_package() config in place.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
install(TARGETS ossrt ossrt_c ossrt_compile_options EXPORT ossrtTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/ossrt DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES capi/include/ossrt.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ossrt-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT ossrtTargets NAMESPACE ossrt:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ossrt)
configure_package_config_file(cmake/ossrtConfig.cmake.in ${CMAKE_BINARY_DIR}/ossrtConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ossrt)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ossrtConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ossrtConfig.cmake ${CMAKE_BINARY_DIR}/ossrtConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ossrt)
# pkg-config for the C ABI. The prefix is the configure-time one; `cmake --install
# --prefix P` elsewhere rewrites it through the install script below.
configure_file(cmake/ossrt.pc.in ${CMAKE_BINARY_DIR}/ossrt.pc.in.configured @ONLY)
install(CODE "
  file(READ \"${CMAKE_BINARY_DIR}/ossrt.pc.in.configured\" pc)
  string(REPLACE \"prefix=${CMAKE_INSTALL_PREFIX}\" \"prefix=\${CMAKE_INSTALL_PREFIX}\" pc \"\${pc}\")
  file(WRITE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/ossrt.pc\" \"\${pc}\")
  message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/ossrt.pc\")
")
