# cmake --install: headers, the library, pinpoolConfig.cmake + version file, so that
# find_package(pinpool) gives pinpool::pinpool.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS pinpool EXPORT pinpoolTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/pinpool DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT pinpoolTargets NAMESPACE pinpool:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pinpool)

configure_package_config_file(cmake/pinpoolConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/pinpoolConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pinpool)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/pinpoolConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/pinpoolConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/pinpoolConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pinpool)
